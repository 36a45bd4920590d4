"""A delivered order: return items (refund to the original method or an existing gift card)
or exchange them for other variants of the same products. DESIGN §4."""

from __future__ import annotations

from collections import Counter

from supportflow.procedures.case import ActionStep, CaseState, ProcedureName
from supportflow.procedures.facts import CaseFacts, OrderSnapshot, cents, money
from supportflow.procedures.flow import (
    Prompt,
    Proposal,
    Turn,
    item_labels,
    payment_choices,
    refund_lines,
    timing_facts,
    wrong_status,
)
from supportflow.procedures.parsing import mentioned_items
from supportflow.procedures.swaps import (
    absorb_items,
    absorb_payment,
    check_swaps,
    default_payment,
    swap_proposal,
)
from supportflow.store.actions import StoreAction


def _not_delivered(order: OrderSnapshot, what: str) -> Prompt:
    return wrong_status("not_delivered", order, what, can_cancel=order.status == "pending")


class Return:
    name: ProcedureName = "return"
    needs_order = True
    store_actions: tuple[StoreAction, ...] = (StoreAction.RETURN_ORDER_ITEMS,)

    def absorb(self, state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState:
        order = facts.order
        if order is not None:
            items = mentioned_items(order, turn.understanding.entities.items, turn.text)
            if not items and not state.item_ids and len(order.items) == 1:
                items = [order.items[0].item_id]
            if items and items != state.item_ids:
                state = state.model_copy(update={"item_ids": items})
        return default_payment(absorb_payment(state, turn, facts), facts)

    def check(self, state: CaseState, facts: CaseFacts) -> tuple[CaseState, Prompt | None]:
        order, user = facts.order, facts.user
        assert order is not None and user is not None
        if order.status != "delivered":
            return state, _not_delivered(order, "returned")
        in_order = {i.item_id for i in order.items}
        if not state.item_ids or any(i not in in_order for i in state.item_ids):
            return state.model_copy(update={"item_ids": []}), Prompt(
                "ask_items",
                {
                    "order_id": order.order_id,
                    "items": item_labels(order, [i.item_id for i in order.items]),
                    "purpose": "return",
                },
                awaiting="items",
            )
        original = order.original_payment_method_id
        refundable = {
            m.id: m for m in user.payment_methods.values() if m.is_gift_card or m.id == original
        }
        notice = (state.notice or {}).get("kind")
        method = user.payment_methods.get(state.payment_method_id or "")
        if method is None or notice is not None or method.id not in refundable:
            return state.model_copy(update={"payment_method_id": None}), Prompt(
                "ask_refund_method",
                {
                    "methods": payment_choices(refundable),
                    "not_allowed": method is not None and method.id not in refundable,
                    "not_found": notice == "payment_not_found",
                },
                awaiting="payment_method",
            )
        return state, None

    def propose(self, state: CaseState, facts: CaseFacts) -> Proposal:
        order, user = facts.order, facts.user
        assert order is not None and user is not None and state.payment_method_id
        # Every unit of the chosen items: an order may hold the same variant twice, and the
        # store must be asked to take back each unit the refund is promised for.
        counts = Counter(i.item_id for i in order.items)
        units = [item_id for item_id in state.item_ids for _ in range(counts[item_id])]
        amount = sum(cents(i.price) for i in order.items if i.item_id in set(units)) / 100
        lines = refund_lines({state.payment_method_id: amount}, user.payment_methods)
        return Proposal(
            action=StoreAction.RETURN_ORDER_ITEMS,
            confirm_template="confirm_return",
            summary={
                "order_id": order.order_id,
                "items": item_labels(order, units),
                "amount": money(amount),
                "refunds": lines,
                **timing_facts(lines),
            },
            steps=[
                ActionStep(
                    name="return",
                    action=StoreAction.RETURN_ORDER_ITEMS,
                    args={
                        "order_id": order.order_id,
                        "item_ids": units,
                        "payment_method_id": state.payment_method_id,
                    },
                    pivot=True,
                )
            ],
            refund_amount=amount,
        )

    def phrase(self, state: CaseState) -> str:
        return f"return items from order {state.order_id}"


class Exchange:
    name: ProcedureName = "exchange"
    needs_order = True
    store_actions: tuple[StoreAction, ...] = (StoreAction.EXCHANGE_ORDER_ITEMS,)

    def absorb(self, state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState:
        state = absorb_items(state, turn, facts)
        return default_payment(absorb_payment(state, turn, facts), facts)

    def check(self, state: CaseState, facts: CaseFacts) -> tuple[CaseState, Prompt | None]:
        order = facts.order
        assert order is not None
        if order.status != "delivered":
            return state, _not_delivered(order, "exchanged")
        return check_swaps(state, facts, "exchange")

    def propose(self, state: CaseState, facts: CaseFacts) -> Proposal:
        return swap_proposal(
            StoreAction.EXCHANGE_ORDER_ITEMS, "exchange", "confirm_exchange", state, facts
        )

    def phrase(self, state: CaseState) -> str:
        return f"exchange items from order {state.order_id}"
