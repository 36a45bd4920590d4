"""Cancel a pending order: a saga of hold (undo: release) -> refund (the pivot) -> cancel.

DESIGN §4: only a *pending* order, with a reason (no longer needed / ordered by mistake); the
refund goes to the original payment methods, at once for a gift card, otherwise in 5-7
business days, and the customer is told which.
"""

from __future__ import annotations

from supportflow.procedures.case import ActionStep, CaseState, ProcedureName
from supportflow.procedures.facts import CaseFacts, money
from supportflow.procedures.flow import (
    Prompt,
    Proposal,
    Turn,
    item_labels,
    refund_lines,
    timing_facts,
)
from supportflow.procedures.parsing import cancel_reason
from supportflow.store.actions import StoreAction


class Cancel:
    name: ProcedureName = "cancel"
    needs_order = True
    store_actions: tuple[StoreAction, ...] = (
        StoreAction.HOLD_ORDER,
        StoreAction.RELEASE_ORDER,
        StoreAction.REFUND_ORDER,
        StoreAction.CANCEL_ORDER,
    )

    def absorb(self, state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState:
        reason = cancel_reason(turn.understanding, turn.text)
        if reason is not None and reason != state.reason:
            return state.model_copy(update={"reason": reason})
        return state

    def check(self, state: CaseState, facts: CaseFacts) -> tuple[CaseState, Prompt | None]:
        order = facts.order
        assert order is not None
        if order.status != "pending":
            return state, Prompt(
                "cancel_not_pending",
                {
                    "order_id": order.order_id,
                    "status": order.status,
                    "can_return": order.status == "delivered",
                },
            )
        if state.reason is None:
            return state, Prompt(
                "ask_cancel_reason", {"order_id": order.order_id}, awaiting="cancel_reason"
            )
        return state, None

    def propose(self, state: CaseState, facts: CaseFacts) -> Proposal:
        order, user = facts.order, facts.user
        assert order is not None and user is not None and state.reason is not None
        lines = refund_lines(order.net_paid_by_method(), user.payment_methods)
        amount = order.outstanding()
        oid = order.order_id
        release = ActionStep(
            name="release", action=StoreAction.RELEASE_ORDER, args={"order_id": oid}
        )
        steps = [
            ActionStep(
                name="hold",
                action=StoreAction.HOLD_ORDER,
                args={"order_id": oid, "reason": state.reason},
                compensation=release,
            )
        ]
        if amount > 0:
            # Irreversible: after it, the saga only goes forward (cancel cannot fail on hold).
            steps.append(
                ActionStep(
                    name="refund",
                    action=StoreAction.REFUND_ORDER,
                    args={"order_id": oid, "amount": None, "payment_method_id": None},
                    pivot=True,
                )
            )
        steps.append(
            ActionStep(
                name="cancel",
                action=StoreAction.CANCEL_ORDER,
                args={"order_id": oid, "reason": state.reason},
                pivot=True,
            )
        )
        summary = {
            "order_id": oid,
            "items": item_labels(order, [i.item_id for i in order.items]),
            "reason": state.reason,
            "amount": money(amount),
            "refunds": lines,
            **timing_facts(lines),
        }
        return Proposal(
            action=StoreAction.CANCEL_ORDER,
            confirm_template="confirm_cancel",
            summary=summary,
            steps=steps,
            refund_amount=amount,
        )

    def phrase(self, state: CaseState) -> str:
        return f"cancel order {state.order_id}" if state.order_id else "cancel an order"
