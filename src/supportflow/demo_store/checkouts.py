"""Checkouts: a customer's cart with contact and consent, and placing the order from it.

Completing a checkout places an order in the seed's shape (``#W`` + 7 digits, ``pending``, one
``items`` entry per unit, one payment of the discounted total), charges a gift card like the
other writes do, uses the discount code, and puts orders/create in the outbox, all in the
caller's transaction: a refusal leaves nothing behind.
"""

from __future__ import annotations

import copy
import secrets
from datetime import datetime

from supportflow.demo_store.discounts import AppliedDiscount, price_discount, use_discount
from supportflow.demo_store.identity import normalize_phone
from supportflow.demo_store.models import CheckoutBody, CompleteBody
from supportflow.demo_store.money import to_amount, to_cents
from supportflow.demo_store.operations import adjust_gift_card, load_user, payment_method_of
from supportflow.demo_store.repository import Doc, StoreRepository
from supportflow.demo_store.sales_records import SalesRecords
from supportflow.demo_store.webhooks.config import SHOP_DOMAIN
from supportflow.demo_store.webhooks.outbox import enqueue
from supportflow.demo_store.webhooks.payloads import CURRENCY, checkout_payload, order_payload
from supportflow.store.errors import StoreNotFound, StoreRejected


def _rejected(detail: str) -> StoreRejected:
    return StoreRejected(detail, status_code=422)


def _variants(repo: StoreRepository) -> dict[str, tuple[Doc, Doc]]:
    """item_id -> (product, variant) over the whole catalogue (50 products: cheap)."""
    return {
        item_id: (product, variant)
        for product in repo.all_products()
        for item_id, variant in product["variants"].items()
    }


def _line_items(repo: StoreRepository, body: CheckoutBody) -> list[Doc]:
    quantities: dict[str, int] = {}
    for line in body.items:  # the same item twice is one line with both quantities
        quantities[line.item_id] = quantities.get(line.item_id, 0) + line.quantity
    catalogue = _variants(repo)
    lines: list[Doc] = []
    for item_id, quantity in quantities.items():
        found = catalogue.get(item_id)
        if found is None:
            raise _rejected(f"item {item_id} does not exist")
        product, variant = found
        if not variant["available"]:
            raise _rejected(f"item {item_id} ({product['name']}) is not available")
        if quantity > 100:
            raise _rejected(f"item {item_id}: at most 100 of one item")
        lines.append(
            {
                "item_id": item_id,
                "product_id": product["product_id"],
                "title": product["name"],
                "variant_title": " / ".join(str(v) for v in variant["options"].values()),
                "options": dict(variant["options"]),
                "quantity": quantity,
                "price": variant["price"],
            }
        )
    return lines


def _subtotal_cents(lines: list[Doc]) -> int:
    return sum(to_cents(line["price"]) * line["quantity"] for line in lines)


def _set_prices(checkout: Doc, applied: AppliedDiscount | None) -> None:
    subtotal = _subtotal_cents(checkout["line_items"])
    off = applied.amount_cents if applied else 0
    checkout["subtotal_price"] = to_amount(subtotal)
    checkout["total_discounts"] = to_amount(off)
    checkout["total_price"] = to_amount(subtotal - off)
    checkout["discount_codes"] = [applied.as_entry()] if applied else []


def _contact_phone(body: CheckoutBody, user: Doc) -> str | None:
    if body.phone is None:
        return user.get("phone")
    phone = normalize_phone(body.phone)
    if phone is None:
        # The number is not echoed back: error bodies may end up in logs.
        raise _rejected("phone: not a valid phone number (give E.164, e.g. +12015550123)")
    return phone


def create_checkout(repo: StoreRepository, body: CheckoutBody, *, now: datetime) -> Doc:
    user = repo.get_user(body.user_id)
    if user is None:
        raise _rejected(f"user {body.user_id} not found")
    lines = _line_items(repo, body)
    phone = _contact_phone(body, user)
    records = SalesRecords(repo.conn)
    checkout_id = _new_checkout_id(records)
    token = secrets.token_hex(16)
    at = now.isoformat()
    checkout: Doc = {
        "id": checkout_id,
        "token": token,
        "customer_id": user["user_id"],
        "email": body.email or user["email"],
        "phone": phone,
        "accepts_email_marketing": body.accepts_email_marketing,
        "accepts_sms_marketing": body.accepts_sms_marketing,
        "line_items": lines,
        "currency": CURRENCY,
        "completed_order_id": None,
        "completed_at": None,
        "abandoned_at": None,
        # Fictional, like the shop's domain: the demo has no storefront to return to.
        "abandoned_checkout_url": f"https://{SHOP_DOMAIN}/checkouts/{token}/recover",
        "created_at": at,
        "updated_at": at,
    }
    applied = None
    if body.discount_code is not None:
        applied = price_discount(
            repo,
            body.discount_code,
            user_id=user["user_id"],
            subtotal_cents=_subtotal_cents(lines),
            now=now,
        )
    _set_prices(checkout, applied)
    announced = enqueue(repo, "checkouts/create", user["user_id"], checkout_payload(checkout, user))
    records.insert_checkout(checkout, created_ts=now.timestamp(), announced=announced)
    return checkout


def get_checkout(repo: StoreRepository, checkout_id: str) -> Doc:
    checkout = SalesRecords(repo.conn).get_checkout(checkout_id)
    if checkout is None:
        raise StoreNotFound(f"checkout {checkout_id} not found")
    return checkout


def complete_checkout(
    repo: StoreRepository, checkout_id: str, body: CompleteBody, *, now: datetime
) -> Doc:
    """Place the order; returns it (the seed's order shape plus checkout_id, discount_codes,
    created_at)."""
    records = SalesRecords(repo.conn)
    checkout = get_checkout(repo, checkout_id)
    if checkout["completed_order_id"] is not None:
        done = checkout["completed_order_id"]
        raise StoreRejected(f"checkout {checkout_id} was already completed as order {done}")
    user = load_user(repo, checkout["customer_id"])
    payment_method_of(user, body.payment_method_id)
    catalogue = _variants(repo)
    for line in checkout["line_items"]:
        variant = catalogue.get(line["item_id"], ({}, {}))[1]
        if not variant.get("available"):
            raise StoreRejected(f"item {line['item_id']} is no longer available")
    code = body.discount_code
    if code is None and checkout["discount_codes"]:
        code = checkout["discount_codes"][0]["code"]
    applied = None
    if code is not None:
        applied = price_discount(
            repo,
            code,
            user_id=user["user_id"],
            subtotal_cents=_subtotal_cents(checkout["line_items"]),
            now=now,
        )
    _set_prices(checkout, applied)
    total_cents = to_cents(checkout["total_price"])
    order_id = _new_order_id(repo)
    order: Doc = {
        "order_id": order_id,
        "user_id": user["user_id"],
        "address": copy.deepcopy(user["address"]),
        "items": [
            {
                "name": line["title"],
                "product_id": line["product_id"],
                "item_id": line["item_id"],
                "price": line["price"],
                "options": dict(line["options"]),
            }
            for line in checkout["line_items"]
            for _ in range(line["quantity"])
        ],
        "status": "pending",
        "fulfillments": [],
        "payment_history": [
            {
                "transaction_type": "payment",
                "amount": to_amount(total_cents),
                "payment_method_id": body.payment_method_id,
            }
        ],
        # The demo store's additions to the seed's shape.
        "checkout_id": checkout["id"],
        "discount_codes": checkout["discount_codes"],
        "created_at": now.isoformat(),
    }
    # Raises (and so changes nothing) when a gift card's balance does not cover the total.
    adjust_gift_card(repo, user, body.payment_method_id, -total_cents, order_id, "place_order")
    user["orders"].append(order_id)
    repo.insert_order(order)
    repo.save_user(user)
    if applied is not None:
        use_discount(repo, applied, order_id)
    checkout["completed_order_id"] = order_id
    checkout["completed_at"] = checkout["updated_at"] = now.isoformat()
    records.save_checkout(checkout)
    enqueue(repo, "orders/create", user["user_id"], order_payload(order, user, checkout))
    return order


def _new_checkout_id(records: SalesRecords) -> str:
    while True:
        checkout_id = f"ck_{secrets.token_hex(8)}"
        if not records.checkout_exists(checkout_id):
            return checkout_id


def _new_order_id(repo: StoreRepository) -> str:
    """``#W`` and 7 digits, as the seed's orders, not taken yet."""
    while True:
        order_id = f"#W{secrets.randbelow(10**7):07d}"
        if repo.get_order(order_id) is None:
            return order_id
