"""Requests answered at once, with no action to confirm: an order's status, a refund's
status, and a transfer to a person."""

from __future__ import annotations

from typing import Any

from supportflow.procedures.case import CaseState, ProcedureName
from supportflow.procedures.facts import CaseFacts, money
from supportflow.procedures.flow import (
    Prompt,
    Proposal,
    Turn,
    item_labels,
    refund_lines,
    timing_facts,
)
from supportflow.store.actions import StoreAction


class _Instant:
    needs_order = True
    store_actions: tuple[StoreAction, ...] = ()  # answers; writes nothing

    def absorb(self, state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState:
        return state

    def propose(self, state: CaseState, facts: CaseFacts) -> Proposal:
        raise AssertionError(f"{type(self).__name__} closes in check(); nothing to propose")


class OrderStatus(_Instant):
    name: ProcedureName = "order_status"

    def check(self, state: CaseState, facts: CaseFacts) -> tuple[CaseState, Prompt | None]:
        order = facts.order
        assert order is not None
        facts_out: dict[str, Any] = {
            "order_id": order.order_id,
            "status": order.status,
            "items": item_labels(order, [i.item_id for i in order.items]),
            "tracking_ids": order.tracking_ids,
        }
        return state, Prompt("order_status", facts_out, closes_as="done")

    def phrase(self, state: CaseState) -> str:
        return f"check order {state.order_id}"


class RefundStatus(_Instant):
    name: ProcedureName = "refund_status"

    def check(self, state: CaseState, facts: CaseFacts) -> tuple[CaseState, Prompt | None]:
        order, user = facts.order, facts.user
        assert order is not None and user is not None
        refunded: dict[str, float] = {}
        for r in order.refunds():
            refunded[r.payment_method_id] = refunded.get(r.payment_method_id, 0.0) + r.amount
        lines = refund_lines(refunded, user.payment_methods)
        return state, Prompt(
            "refund_status",
            {
                "order_id": order.order_id,
                "status": order.status,
                "refunds": lines,
                **timing_facts(lines),
                "total": money(sum(refunded.values())),
                "return_pending": order.status == "return requested",
                "can_cancel": order.status == "pending",
                "can_return": order.status == "delivered",
            },
            closes_as="done",
        )

    def phrase(self, state: CaseState) -> str:
        return f"check the refund for order {state.order_id}"


class Handoff(_Instant):
    name: ProcedureName = "handoff"
    needs_order = False

    def check(self, state: CaseState, facts: CaseFacts) -> tuple[CaseState, Prompt | None]:
        return state, Prompt("handoff", {}, closes_as="escalated")

    def phrase(self, state: CaseState) -> str:
        return "talk to a member of our team"
