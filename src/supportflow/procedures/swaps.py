"""Swapping items for other variants of the same product: shared by a pending order's item
change (modify_items, once only) and a delivered order's exchange."""

from __future__ import annotations

from typing import Any, Literal

from supportflow.procedures.case import ActionStep, CaseState
from supportflow.procedures.facts import CaseFacts, OrderSnapshot, cents, money
from supportflow.procedures.flow import Prompt, Proposal, Turn, item_labels, payment_choices
from supportflow.procedures.parsing import (
    choose_variant,
    foreign_products,
    match_payment,
    mentioned_items,
    mentioned_payment_sources,
    variant_label,
)
from supportflow.store.actions import StoreAction

MAX_OPTIONS_LISTED = 8


def absorb_items(state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState:
    """Which items (mentioned, or the only one), and the variants wanted for them."""
    order = facts.order
    if order is None:
        return state
    matches = turn.understanding.entities.items
    update: dict[str, Any] = {}
    items = mentioned_items(order, matches, turn.text)
    if not items and not state.item_ids and len(order.items) == 1:
        items = [order.items[0].item_id]
    item_ids = state.item_ids
    new_ids = state.new_item_ids
    if items and items != state.item_ids:
        item_ids, new_ids = items, [""] * len(items)
        update |= {"item_ids": item_ids, "new_item_ids": new_ids}
    foreign = foreign_products(order, matches)
    if foreign and item_ids:
        update["notice"] = {"kind": "other_product", "names": foreign}
    chosen = list(new_ids) + [""] * (len(item_ids) - len(new_ids))
    for i, item_id in enumerate(item_ids):
        old = order.item(item_id)
        if old is None:
            continue
        choice = choose_variant(old, facts.products.get(old.product_id), matches, turn.text)
        if choice.problem == "unavailable" and choice.new is not None:
            update["notice"] = {
                "kind": "variant_unavailable",
                "item": old.name,
                "variant": variant_label(choice.new),
            }
        elif choice.new is not None and choice.problem is None:
            chosen[i] = choice.new.item_id
    if chosen != state.new_item_ids and item_ids:
        update["new_item_ids"] = chosen
    return state.model_copy(update=update) if update else state


def absorb_payment(state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState:
    """A payment method the customer names; it must be one of theirs."""
    if facts.user is None or not mentioned_payment_sources(turn.text):
        return state
    found = match_payment(turn.text, facts.user.payment_methods.values())
    if len(found) == 1:
        if found[0].id != state.payment_method_id:
            return state.model_copy(update={"payment_method_id": found[0].id})
        return state
    kind = "payment_ambiguous" if found else "payment_not_found"
    return state.model_copy(update={"notice": {"kind": kind}})


def default_payment(state: CaseState, facts: CaseFacts) -> CaseState:
    order, user = facts.order, facts.user
    if state.payment_method_id is not None or order is None or user is None:
        return state
    original = order.original_payment_method_id
    if original is not None and original in user.payment_methods:
        return state.model_copy(update={"payment_method_id": original})
    return state


def price_difference(order: OrderSnapshot, facts: CaseFacts, state: CaseState) -> float:
    total = 0
    for old_id, new_id in zip(state.item_ids, state.new_item_ids, strict=False):
        old = order.item(old_id)
        product = facts.products.get(old.product_id) if old else None
        variant = product.variants.get(new_id) if product else None
        if old is not None and variant is not None:
            total += cents(variant.price) - cents(old.price)
    return total / 100


def check_swaps(
    state: CaseState, facts: CaseFacts, purpose: str
) -> tuple[CaseState, Prompt | None]:
    """Items named, each with another available variant of the same product, and a payment
    method of the customer's that can settle the difference."""
    order, user = facts.order, facts.user
    assert order is not None and user is not None
    in_order = {i.item_id for i in order.items}
    if not state.item_ids or any(i not in in_order for i in state.item_ids):
        state = state.model_copy(update={"item_ids": [], "new_item_ids": []})
        return state, Prompt(
            "ask_items",
            {
                "order_id": order.order_id,
                "items": item_labels(order, [i.item_id for i in order.items]),
                "purpose": purpose,
            },
            awaiting="items",
        )
    notice = state.notice or {}
    for old_id, new_id in zip(state.item_ids, state.new_item_ids, strict=False):
        old = order.item(old_id)
        assert old is not None
        product = facts.products.get(old.product_id)
        variant = product.variants.get(new_id) if product and new_id else None
        if variant is not None and variant.available:
            continue
        options = [
            variant_label(v)
            for v in (product.variants.values() if product else [])
            if v.available and v.item_id != old.item_id
        ]
        if not options:
            return state, Prompt(
                "no_other_variant", {"order_id": order.order_id, "item": old.label()}
            )
        return state, Prompt(
            "ask_new_items",
            {
                "item": old.label(),
                "name": old.name,
                "options": options[:MAX_OPTIONS_LISTED],
                "more_options": len(options) > MAX_OPTIONS_LISTED,
                "other_product": notice.get("names", [])
                if notice.get("kind") == "other_product"
                else [],
                "unavailable": notice.get("variant")
                if notice.get("kind") == "variant_unavailable"
                else None,
            },
            awaiting="new_items",
        )
    return check_payment_for(state, facts, price_difference(order, facts, state))


def check_payment_for(
    state: CaseState, facts: CaseFacts, charge: float
) -> tuple[CaseState, Prompt | None]:
    """The payment method must be the customer's; a gift card must cover what it pays."""
    user = facts.user
    assert user is not None
    notice = (state.notice or {}).get("kind")
    method = user.payment_methods.get(state.payment_method_id or "")
    if method is None or notice in ("payment_not_found", "payment_ambiguous"):
        return state.model_copy(update={"payment_method_id": None}), Prompt(
            "ask_payment_method",
            {
                "methods": payment_choices(user.payment_methods),
                "not_found": notice == "payment_not_found",
                "purpose": "settle the price difference",
            },
            awaiting="payment_method",
        )
    if method.is_gift_card and charge > 0 and cents(method.balance or 0) < cents(charge):
        return state.model_copy(update={"payment_method_id": None}), Prompt(
            "gift_card_balance",
            {
                "balance": money(method.balance or 0),
                "amount": money(charge),
                "methods": payment_choices(user.payment_methods, exclude=method.id),
            },
            awaiting="payment_method",
        )
    return state, None


def swap_summary(state: CaseState, facts: CaseFacts) -> dict[str, Any]:
    order, user = facts.order, facts.user
    assert order is not None and user is not None
    changes = []
    for old_id, new_id in zip(state.item_ids, state.new_item_ids, strict=True):
        old = order.item(old_id)
        assert old is not None
        variant = facts.products[old.product_id].variants[new_id]
        changes.append(
            {
                "old": old.label(),
                "new": f"{old.name} ({variant_label(variant)})",
                "old_price": money(old.price),
                "new_price": money(variant.price),
            }
        )
    diff = price_difference(order, facts, state)
    method = user.payment_methods[state.payment_method_id or ""]
    return {
        "order_id": order.order_id,
        "changes": changes,
        "difference": money(abs(diff)),
        "pay_more": diff > 0,
        "refund_back": diff < 0,
        "payment": method.label(),
        "refund_at_once": method.is_gift_card,
        "refund_later": not method.is_gift_card,
    }


def swap_proposal(
    action: Literal[StoreAction.MODIFY_ORDER_ITEMS, StoreAction.EXCHANGE_ORDER_ITEMS],
    step_name: str,
    confirm_template: str,
    state: CaseState,
    facts: CaseFacts,
) -> Proposal:
    """One irreversible store write that swaps items for other variants (a pending order's
    item change or a delivered order's exchange), settling the price difference."""
    order = facts.order
    assert order is not None
    diff = price_difference(order, facts, state)
    return Proposal(
        action=action,
        confirm_template=confirm_template,
        summary=swap_summary(state, facts),
        steps=[
            ActionStep(
                name=step_name,
                action=action,
                args={
                    "order_id": order.order_id,
                    "item_ids": state.item_ids,
                    "new_item_ids": state.new_item_ids,
                    "payment_method_id": state.payment_method_id,
                },
                pivot=True,
            )
        ],
        refund_amount=max(-diff, 0.0),
        charge_amount=max(diff, 0.0),
    )
