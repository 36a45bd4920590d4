"""The store's write rules (tau2-bench retail semantics), each applied through a repository.

Every function validates first and raises ``StoreNotFound``/``StoreRejected``; the caller runs it
in one transaction (with a savepoint), so a rejection never leaves a partial change.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from supportflow.demo_store.idempotency import PREEMPTED
from supportflow.demo_store.money import to_amount, to_cents
from supportflow.demo_store.repository import Doc, StoreRepository, utc_now
from supportflow.demo_store.sales_records import SalesRecords
from supportflow.demo_store.webhooks.outbox import enqueue
from supportflow.demo_store.webhooks.payloads import cancelled_order_payload
from supportflow.store.errors import StoreNotFound, StoreRejected

CANCEL_REASONS = ("no longer needed", "ordered by mistake")


# -- lookups that raise ---------------------------------------------------------------------


def load_order(repo: StoreRepository, order_id: str) -> Doc:
    order = repo.get_order(order_id)
    if order is None:
        raise StoreNotFound(f"order {order_id} not found")
    return order


def load_user(repo: StoreRepository, user_id: str) -> Doc:
    user = repo.get_user(user_id)
    if user is None:
        raise StoreNotFound(f"user {user_id} not found")
    return user


def payment_method_of(user: Doc, payment_method_id: str) -> Doc:
    method: Doc | None = user["payment_methods"].get(payment_method_id)
    if method is None:
        raise StoreRejected(
            f"payment method {payment_method_id} does not belong to user {user['user_id']}"
        )
    return method


def _require_not_held(repo: StoreRepository, order_id: str) -> None:
    # A held order is being cancelled by a saga; changing it now would race the cancel.
    if repo.get_hold(order_id) is not None:
        raise StoreRejected(f"order {order_id} is on hold for cancellation")


def _require_pending(order: Doc, action: str, *, strict: bool) -> None:
    # tau2: cancel and item changes need exactly "pending"; address and payment changes accept
    # "pending (item modified)" too.
    status: str = order["status"]
    ok = status == "pending" if strict else "pending" in status
    if not ok:
        raise StoreRejected(f"order {order['order_id']} is {status}; cannot {action}")


def _require_items_present(order: Doc, item_ids: list[str]) -> None:
    missing = Counter(item_ids) - Counter(item["item_id"] for item in order["items"])
    if missing:
        raise StoreRejected(f"items not in order {order['order_id']}: {sorted(missing)}")


# -- money ----------------------------------------------------------------------------------


def _net_paid_by_method(order: Doc) -> dict[str, int]:
    """Cents paid minus refunded, per method, in order of first use."""
    net: dict[str, int] = {}
    for entry in order["payment_history"]:
        sign = 1 if entry["transaction_type"] == "payment" else -1
        method = entry["payment_method_id"]
        net[method] = net.get(method, 0) + sign * to_cents(entry["amount"])
    return net


def outstanding_cents(order: Doc) -> int:
    """What the customer has paid for this order and not been refunded."""
    return sum(_net_paid_by_method(order).values())


def adjust_gift_card(
    repo: StoreRepository, user: Doc, method_id: str, delta_cents: int, order_id: str, op: str
) -> None:
    method = user["payment_methods"][method_id]
    if method["source"] != "gift_card" or delta_cents == 0:
        return
    balance = to_cents(method["balance"]) + delta_cents
    if balance < 0:
        raise StoreRejected(f"insufficient balance on gift card {method_id}")
    method["balance"] = to_amount(balance)
    repo.record_gift_card_movement(
        user_id=user["user_id"],
        payment_method_id=method_id,
        order_id=order_id,
        operation=op,
        delta_cents=delta_cents,
        balance_cents=balance,
    )


def _append_transaction(order: Doc, kind: str, cents: int, method_id: str) -> None:
    order["payment_history"].append(
        {"transaction_type": kind, "amount": to_amount(cents), "payment_method_id": method_id}
    )


def _refund_to_original_methods(
    repo: StoreRepository,
    order: Doc,
    user: Doc,
    cents: int,
    op: str,
    only_method: str | None = None,
) -> None:
    """Refund ``cents`` to the methods that paid, never more than each one's net payment.

    Gift cards are credited at once; other methods are refunded by the processor in 5-7 days.
    """
    remaining = cents
    for method_id, net in _net_paid_by_method(order).items():
        if only_method is not None and method_id != only_method:
            continue
        take = min(net, remaining)
        if take <= 0:
            continue
        _append_transaction(order, "refund", take, method_id)
        adjust_gift_card(repo, user, method_id, take, order["order_id"], op)
        remaining -= take
    if remaining > 0:
        raise StoreRejected(
            f"refund of {to_amount(cents):.2f} exceeds what was paid "
            f"(by {only_method or 'the original methods'}) for order {order['order_id']}"
        )


# -- order writes ---------------------------------------------------------------------------


def cancel_order(repo: StoreRepository, order_id: str, reason: str) -> Doc:
    order = load_order(repo, order_id)
    _require_pending(order, "cancel it", strict=True)
    if reason not in CANCEL_REASONS:
        raise StoreRejected(f"reason must be one of {list(CANCEL_REASONS)}")
    user = load_user(repo, order["user_id"])
    # Refunds only what is still outstanding: a cancel saga may have refunded already.
    _refund_to_original_methods(repo, order, user, outstanding_cents(order), "cancel")
    order["status"] = "cancelled"
    order["cancel_reason"] = reason
    repo.delete_hold(order_id)
    repo.save_order(order)
    repo.save_user(user)
    # Sales (issue 14): a cancelled order's discount codes are usable again, and it is told.
    records = SalesRecords(repo.conn)
    records.release_uses(order_id)
    payload = cancelled_order_payload(
        order, user, records.checkout_of_order(order_id), cancelled_at=utc_now()
    )
    enqueue(repo, "orders/cancelled", user["user_id"], payload)
    return order


def modify_order_address(repo: StoreRepository, order_id: str, address: Doc) -> Doc:
    order = load_order(repo, order_id)
    _require_pending(order, "change its address", strict=False)
    _require_not_held(repo, order_id)
    order["address"] = address
    repo.save_order(order)
    return order


def modify_order_payment(repo: StoreRepository, order_id: str, payment_method_id: str) -> Doc:
    order = load_order(repo, order_id)
    _require_pending(order, "change its payment method", strict=False)
    _require_not_held(repo, order_id)
    user = load_user(repo, order["user_id"])
    payment_method_of(user, payment_method_id)
    history = order["payment_history"]
    if len(history) != 1 or history[0]["transaction_type"] != "payment":
        raise StoreRejected("payment can only be changed while the order has exactly one payment")
    old_method_id: str = history[0]["payment_method_id"]
    if old_method_id == payment_method_id:
        raise StoreRejected("the new payment method must differ from the current one")
    cents = to_cents(history[0]["amount"])
    adjust_gift_card(repo, user, payment_method_id, -cents, order_id, "modify_payment")
    adjust_gift_card(repo, user, old_method_id, cents, order_id, "modify_payment")
    _append_transaction(order, "payment", cents, payment_method_id)
    _append_transaction(order, "refund", cents, old_method_id)
    repo.save_order(order)
    repo.save_user(user)
    return order


def _variant_swaps(
    repo: StoreRepository, order: Doc, item_ids: list[str], new_item_ids: list[str]
) -> list[tuple[int, Doc]]:
    """(index in order.items, new variant) per pair, after checking the tau2 rules."""
    if len(item_ids) != len(new_item_ids):
        raise StoreRejected("item_ids and new_item_ids must have the same length")
    _require_items_present(order, item_ids)
    used: set[int] = set()
    swaps: list[tuple[int, Doc]] = []
    for old_id, new_id in zip(item_ids, new_item_ids, strict=True):
        if old_id == new_id:
            raise StoreRejected(f"new item {new_id} is the same as the old one")
        index = next(
            i
            for i, item in enumerate(order["items"])
            if item["item_id"] == old_id and i not in used
        )
        used.add(index)
        product_id = order["items"][index]["product_id"]
        product = repo.get_product(product_id)
        variant: Doc | None = product["variants"].get(new_id) if product else None
        if variant is None:
            raise StoreRejected(f"item {new_id} is not a variant of product {product_id}")
        if not variant["available"]:
            raise StoreRejected(f"item {new_id} is not available")
        swaps.append((index, variant))
    return swaps


def _price_difference_cents(order: Doc, swaps: list[tuple[int, Doc]]) -> int:
    return sum(
        to_cents(variant["price"]) - to_cents(order["items"][index]["price"])
        for index, variant in swaps
    )


def _check_gift_card_covers(user: Doc, method_id: str, cents: int) -> None:
    method = payment_method_of(user, method_id)
    if method["source"] == "gift_card" and cents > 0 and to_cents(method["balance"]) < cents:
        raise StoreRejected(f"insufficient balance on gift card {method_id}")


def modify_order_items(
    repo: StoreRepository,
    order_id: str,
    item_ids: list[str],
    new_item_ids: list[str],
    payment_method_id: str,
) -> Doc:
    order = load_order(repo, order_id)
    if order["status"] == "pending (item modified)":
        raise StoreRejected(f"items of order {order_id} were already modified once")
    _require_pending(order, "change its items", strict=True)
    _require_not_held(repo, order_id)
    swaps = _variant_swaps(repo, order, item_ids, new_item_ids)
    diff = _price_difference_cents(order, swaps)
    user = load_user(repo, order["user_id"])
    _check_gift_card_covers(user, payment_method_id, diff)
    if diff:
        kind = "payment" if diff > 0 else "refund"
        _append_transaction(order, kind, abs(diff), payment_method_id)
        adjust_gift_card(repo, user, payment_method_id, -diff, order_id, "modify_items")
    for index, variant in swaps:
        item = order["items"][index]
        item["item_id"] = variant["item_id"]
        item["price"] = variant["price"]
        item["options"] = dict(variant["options"])
    order["status"] = "pending (item modified)"
    repo.save_order(order)
    repo.save_user(user)
    return order


def return_order_items(
    repo: StoreRepository, order_id: str, item_ids: list[str], payment_method_id: str
) -> Doc:
    order = load_order(repo, order_id)
    if order["status"] != "delivered":
        raise StoreRejected(f"order {order_id} is {order['status']}; only delivered can return")
    user = load_user(repo, order["user_id"])
    method = payment_method_of(user, payment_method_id)
    original: str = order["payment_history"][0]["payment_method_id"]
    if method["source"] != "gift_card" and payment_method_id != original:
        raise StoreRejected("a return is refunded to the original payment method or a gift card")
    _require_items_present(order, item_ids)
    # The refund itself happens when the warehouse receives the items, outside this store.
    order["status"] = "return requested"
    order["return_items"] = sorted(item_ids)
    order["return_payment_method_id"] = payment_method_id
    repo.save_order(order)
    return order


def exchange_order_items(
    repo: StoreRepository,
    order_id: str,
    item_ids: list[str],
    new_item_ids: list[str],
    payment_method_id: str,
) -> Doc:
    order = load_order(repo, order_id)
    if order["status"] != "delivered":
        raise StoreRejected(f"order {order_id} is {order['status']}; only delivered can exchange")
    swaps = _variant_swaps(repo, order, item_ids, new_item_ids)
    diff = _price_difference_cents(order, swaps)
    user = load_user(repo, order["user_id"])
    _check_gift_card_covers(user, payment_method_id, diff)
    # As in tau2, the difference is settled when the exchange is processed, not now.
    order["status"] = "exchange requested"
    order["exchange_items"] = sorted(item_ids)
    order["exchange_new_items"] = sorted(new_item_ids)
    order["exchange_payment_method_id"] = payment_method_id
    order["exchange_price_difference"] = to_amount(diff)
    repo.save_order(order)
    return order


# -- saga steps: hold (reversible) -> refund (irreversible pivot) -> cancel (cannot fail) ------


def hold_order(repo: StoreRepository, order_id: str, reason: str | None) -> Doc:
    order = load_order(repo, order_id)
    _require_pending(order, "hold it", strict=True)
    if repo.get_hold(order_id) is not None:
        raise StoreRejected(f"order {order_id} is already on hold")
    repo.put_hold(order_id, reason)
    return order


def release_order(repo: StoreRepository, order_id: str, hold_key: str | None = None) -> Doc:
    """Compensation for hold: a no-op when no hold exists, so it is always safe to run.

    With ``hold_key`` (the undone hold's Idempotency-Key), a hold under that key that has
    not arrived yet is refused when it does, so a late hold cannot outlive its saga.
    """
    order = load_order(repo, order_id)
    if hold_key is not None and repo.get_stored_response(hold_key) is None:
        repo.store_response(
            hold_key,
            "hold",
            PREEMPTED,
            409,
            {"detail": f"order {order_id}: this hold was released before it arrived"},
        )
    hold = repo.get_hold(order_id)
    if hold is None:
        return order
    if hold.refunded_cents:
        # Money already went back; releasing would leave a pending order nobody paid for.
        raise StoreRejected(f"order {order_id} was refunded under this hold; cancel it instead")
    repo.delete_hold(order_id)
    return order


def refund_order(
    repo: StoreRepository, order_id: str, amount: float | None, payment_method_id: str | None
) -> Doc:
    order = load_order(repo, order_id)
    if repo.get_hold(order_id) is None:
        raise StoreRejected(f"order {order_id} must be on hold before a refund")
    _require_pending(order, "refund it", strict=True)
    cents = to_cents(amount) if amount is not None else outstanding_cents(order)
    if cents <= 0:
        raise StoreRejected(f"nothing left to refund on order {order_id}")
    user = load_user(repo, order["user_id"])
    if payment_method_id is not None:
        payment_method_of(user, payment_method_id)
    _refund_to_original_methods(repo, order, user, cents, "refund", payment_method_id)
    repo.add_hold_refund(order_id, cents)
    repo.save_order(order)
    repo.save_user(user)
    # The answer (stored with the idempotency key, so a replay says the same) tells what
    # this refund applied; the order itself does not carry it.
    return {**order, "refund_applied": to_amount(cents)}


def hold_status(repo: StoreRepository, order_id: str) -> dict[str, Any]:
    load_order(repo, order_id)
    hold = repo.get_hold(order_id)
    if hold is None:
        return {"order_id": order_id, "held": False}
    return {
        "order_id": order_id,
        "held": True,
        "reason": hold.reason,
        "refunded": to_amount(hold.refunded_cents),
        "held_at": hold.held_at,
    }


# -- user writes ----------------------------------------------------------------------------


def modify_user_address(repo: StoreRepository, user_id: str, address: Doc) -> Doc:
    user = load_user(repo, user_id)
    user["address"] = address
    repo.save_user(user)
    return user
