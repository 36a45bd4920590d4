"""Change a pending order: its shipping address, its payment method, or its items (other
variants of the same products, once only). DESIGN §4."""

from __future__ import annotations

from supportflow.procedures.case import ActionStep, CaseState, ProcedureName
from supportflow.procedures.facts import CaseFacts, OrderSnapshot, money
from supportflow.procedures.flow import (
    Prompt,
    Proposal,
    Turn,
    absorb_address,
    payment_choices,
    wrong_status,
)
from supportflow.procedures.swaps import (
    absorb_items,
    absorb_payment,
    check_payment_for,
    check_swaps,
    default_payment,
    swap_proposal,
)
from supportflow.store.actions import StoreAction


def _not_pending(order: OrderSnapshot, what: str) -> Prompt:
    return wrong_status("modify_not_pending", order, what)


class ModifyAddress:
    name: ProcedureName = "modify_address"
    needs_order = True
    store_actions: tuple[StoreAction, ...] = (StoreAction.MODIFY_ORDER_ADDRESS,)

    def absorb(self, state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState:
        return absorb_address(state, turn)

    def check(self, state: CaseState, facts: CaseFacts) -> tuple[CaseState, Prompt | None]:
        order = facts.order
        assert order is not None
        # Address and payment may still change after an item change ("pending (item modified)").
        if "pending" not in order.status:
            return state, _not_pending(order, "its shipping address")
        if state.address is None:
            return state, Prompt(
                "ask_address",
                {"order_id": order.order_id, "for_account": False},
                awaiting="address",
            )
        return state, None

    def propose(self, state: CaseState, facts: CaseFacts) -> Proposal:
        order = facts.order
        assert order is not None and state.address is not None
        return Proposal(
            action=StoreAction.MODIFY_ORDER_ADDRESS,
            confirm_template="confirm_modify_address",
            summary={
                "order_id": order.order_id,
                "address": state.address.one_line(),
                "old_address": order.address.one_line() if order.address else None,
            },
            steps=[
                ActionStep(
                    name="address",
                    action=StoreAction.MODIFY_ORDER_ADDRESS,
                    args={"order_id": order.order_id, "address": state.address.as_store()},
                    pivot=True,
                )
            ],
        )

    def phrase(self, state: CaseState) -> str:
        return f"change the shipping address of order {state.order_id}"


class ModifyPayment:
    name: ProcedureName = "modify_payment"
    needs_order = True
    store_actions: tuple[StoreAction, ...] = (StoreAction.MODIFY_ORDER_PAYMENT,)

    def absorb(self, state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState:
        return absorb_payment(state, turn, facts)

    def check(self, state: CaseState, facts: CaseFacts) -> tuple[CaseState, Prompt | None]:
        order, user = facts.order, facts.user
        assert order is not None and user is not None
        if "pending" not in order.status:
            return state, _not_pending(order, "its payment method")
        payments = order.payment_history
        if len(payments) != 1 or payments[0].transaction_type != "payment":
            return state, Prompt("payment_change_split", {"order_id": order.order_id})
        current = payments[0].payment_method_id
        if state.payment_method_id is None and state.notice is None:
            return state, Prompt(
                "ask_payment_method",
                {
                    "methods": payment_choices(user.payment_methods, exclude=current),
                    "not_found": False,
                    "purpose": f"pay for order {order.order_id}",
                },
                awaiting="payment_method",
            )
        if state.payment_method_id == current:
            method = user.payment_methods.get(current)
            return state.model_copy(update={"payment_method_id": None}), Prompt(
                "payment_same",
                {
                    "order_id": order.order_id,
                    "payment": method.label() if method else current,
                    "methods": payment_choices(user.payment_methods, exclude=current),
                },
                awaiting="payment_method",
            )
        return check_payment_for(state, facts, payments[0].amount)

    def propose(self, state: CaseState, facts: CaseFacts) -> Proposal:
        order, user = facts.order, facts.user
        assert order is not None and user is not None and state.payment_method_id
        paid = order.payment_history[0]
        new = user.payment_methods[state.payment_method_id]
        old = user.payment_methods.get(paid.payment_method_id)
        old_gift = old.is_gift_card if old else False
        return Proposal(
            action=StoreAction.MODIFY_ORDER_PAYMENT,
            confirm_template="confirm_modify_payment",
            summary={
                "order_id": order.order_id,
                "amount": money(paid.amount),
                "payment": new.label(),
                "old_payment": old.label() if old else "the original payment method",
                "refund_at_once": old_gift,
                "refund_later": not old_gift,
            },
            steps=[
                ActionStep(
                    name="payment",
                    action=StoreAction.MODIFY_ORDER_PAYMENT,
                    args={"order_id": order.order_id, "payment_method_id": new.id},
                    pivot=True,
                )
            ],
            # Money only moves between the customer's own methods; it nets to zero.
            charge_amount=paid.amount,
        )

    def phrase(self, state: CaseState) -> str:
        return f"change the payment method of order {state.order_id}"


class ModifyItems:
    name: ProcedureName = "modify_items"
    needs_order = True
    store_actions: tuple[StoreAction, ...] = (StoreAction.MODIFY_ORDER_ITEMS,)

    def absorb(self, state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState:
        state = absorb_items(state, turn, facts)
        return default_payment(absorb_payment(state, turn, facts), facts)

    def check(self, state: CaseState, facts: CaseFacts) -> tuple[CaseState, Prompt | None]:
        order = facts.order
        assert order is not None
        if order.status == "pending (item modified)":
            return state, Prompt("items_modified_once", {"order_id": order.order_id})
        if order.status != "pending":
            return state, _not_pending(order, "its items")
        return check_swaps(state, facts, "change")

    def propose(self, state: CaseState, facts: CaseFacts) -> Proposal:
        return swap_proposal(
            StoreAction.MODIFY_ORDER_ITEMS, "items", "confirm_modify_items", state, facts
        )

    def phrase(self, state: CaseState) -> str:
        return f"change items in order {state.order_id}"
