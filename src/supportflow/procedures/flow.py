"""The shape every procedure has, so one engine (base.py) can drive them all.

A procedure: takes details from a turn (`absorb`), checks the store's rules against fresh
facts and asks for what is missing (`check`), and once complete proposes an action: the
summary the customer confirms and the saga that carries it out (`propose`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from supportflow.procedures.case import ActionStep, Awaiting, CaseState, ProcedureName
from supportflow.procedures.facts import CaseFacts, OrderSnapshot, PaymentMethod, money
from supportflow.procedures.parsing import parse_address
from supportflow.store.actions import PolicyAction, StoreAction
from supportflow.understanding.contract import Understanding

GIFT_CARD_TIMING = "at once"
OTHER_TIMING = "in 5-7 business days"


@dataclass(frozen=True)
class Turn:
    understanding: Understanding
    text: str
    now: datetime


@dataclass(frozen=True)
class Prompt:
    """A reply that asks (``awaiting`` set: the case stays open) or closes the case."""

    template: str
    facts: dict[str, Any] = field(default_factory=dict)
    awaiting: Awaiting | None = None
    closes_as: Literal["refused", "done", "escalated"] = "refused"


@dataclass(frozen=True)
class Proposal:
    action: PolicyAction
    confirm_template: str
    # Facts for both templates; the customer's yes applies to exactly these.
    summary: dict[str, Any]
    steps: list[ActionStep]
    refund_amount: float = 0.0
    charge_amount: float = 0.0


class Procedure(Protocol):
    name: ProcedureName
    needs_order: bool
    # Every store write its plans may use: a backend lacking one of them (see
    # ``CaseFacts.capabilities``) gets the request handed to a person before anything is asked.
    store_actions: tuple[StoreAction, ...]

    def absorb(self, state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState: ...

    def check(self, state: CaseState, facts: CaseFacts) -> tuple[CaseState, Prompt | None]: ...

    def propose(self, state: CaseState, facts: CaseFacts) -> Proposal: ...

    def phrase(self, state: CaseState) -> str:
        """What the case does, in words: "cancel order #W123"."""
        ...


def refund_lines(
    amounts: dict[str, float], methods: dict[str, PaymentMethod]
) -> list[dict[str, Any]]:
    """One line per destination: where the money goes, how much, and when it arrives."""
    lines = []
    for method_id, amount in amounts.items():
        if amount <= 0:
            continue
        method = methods.get(method_id)
        gift = method.is_gift_card if method else method_id.startswith("gift_card")
        lines.append(
            {
                "to": method.label() if method else "your original payment method",
                "amount": money(amount),
                "at_once": gift,
                "when": GIFT_CARD_TIMING if gift else OTHER_TIMING,
            }
        )
    return lines


def timing_facts(lines: list[dict[str, Any]]) -> dict[str, bool]:
    return {
        "refund_at_once": any(line["at_once"] for line in lines),
        "refund_later": any(not line["at_once"] for line in lines),
    }


def item_labels(order: OrderSnapshot, item_ids: list[str]) -> list[str]:
    labels = []
    for item_id in item_ids:
        item = order.item(item_id)
        if item is not None:
            labels.append(item.label())
    return labels


def payment_choices(methods: dict[str, PaymentMethod], exclude: str | None = None) -> list[str]:
    out = []
    for m in methods.values():
        if m.id == exclude:
            continue
        label = m.label()
        if m.is_gift_card and m.balance is not None:
            label += f" (balance {money(m.balance)})"
        out.append(label)
    return out


def wrong_status(template: str, order: OrderSnapshot, what: str, **extra: Any) -> Prompt:
    """A refusal because of the order's status, stated in plain words ("it is delivered")."""
    return Prompt(
        template,
        {
            "order_id": order.order_id,
            "status": order.status,
            "what": what,
            **extra,
        },
    )


def absorb_address(state: CaseState, turn: Turn) -> CaseState:
    """Take a new address from the message, if it has one."""
    address = parse_address(turn.text)
    if address is not None and address != state.address:
        return state.model_copy(update={"address": address})
    return state
