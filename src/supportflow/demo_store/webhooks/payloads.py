"""Webhook payloads in Shopify's REST shapes (only the fields the readers use), built from the
store's own documents. Money is a string with two decimals, as Shopify sends it; ids are the
store's strings. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from supportflow.demo_store.money import to_cents

Doc = dict[str, Any]
CURRENCY = "USD"
# The store's discount kinds as Shopify's order/checkout ``discount_codes[].type`` names them.
_SHOPIFY_DISCOUNT_TYPE = {
    "percentage": "percentage",
    "fixed_amount": "fixed_amount",
    "free_shipping": "shipping",
}


def money(amount: float) -> str:
    cents = to_cents(amount)
    return f"{cents // 100}.{cents % 100:02d}"


def _customer(user: Doc) -> Doc:
    return {"id": user["user_id"], "email": user["email"], "phone": user.get("phone")}


def _discount_codes(entries: list[Doc]) -> list[Doc]:
    return [
        {
            "code": e["code"],
            "amount": money(e["amount"]),
            "type": _SHOPIFY_DISCOUNT_TYPE.get(e["type"], e["type"]),
        }
        for e in entries
    ]


def checkout_payload(checkout: Doc, user: Doc) -> Doc:
    """checkouts/create and the demo store's checkouts/abandoned."""
    return {
        "id": checkout["id"],
        "token": checkout["token"],
        "email": checkout["email"],
        "phone": checkout["phone"],
        "customer": _customer(user),
        "buyer_accepts_marketing": checkout["accepts_email_marketing"],
        "buyer_accepts_sms_marketing": checkout["accepts_sms_marketing"],
        "line_items": [
            {
                "variant_id": line["item_id"],
                "product_id": line["product_id"],
                "title": line["title"],
                "quantity": line["quantity"],
                "price": money(line["price"]),
            }
            for line in checkout["line_items"]
        ],
        "total_price": money(checkout["total_price"]),
        "currency": checkout["currency"],
        "created_at": checkout["created_at"],
        "updated_at": checkout["updated_at"],
        "completed_at": checkout["completed_at"],
        "abandoned_checkout_url": checkout["abandoned_checkout_url"],
        "discount_codes": _discount_codes(checkout["discount_codes"]),
    }


def order_line_items(order: Doc) -> list[Doc]:
    """The order's items (one entry per unit in the seed's shape) as line items with a
    quantity, in order of first appearance."""
    lines: dict[str, Doc] = {}
    for item in order["items"]:
        line = lines.get(item["item_id"])
        if line is None:
            lines[item["item_id"]] = {
                "variant_id": item["item_id"],
                "product_id": item["product_id"],
                "title": item["name"],
                "quantity": 1,
                "price": money(item["price"]),
            }
        else:
            line["quantity"] += 1
    return list(lines.values())


def order_total_cents(order: Doc) -> int:
    """What the order costs: its items less its discounts."""
    items = sum(to_cents(item["price"]) for item in order["items"])
    return items - sum(to_cents(d["amount"]) for d in order.get("discount_codes", []))


def order_payload(order: Doc, user: Doc, checkout: Doc | None) -> Doc:
    """orders/create; a seed order (no checkout) takes its contact from the account."""
    total = order_total_cents(order)
    return {
        "id": order["order_id"],
        "name": order["order_id"],
        "email": checkout["email"] if checkout else user["email"],
        "phone": checkout["phone"] if checkout else user.get("phone"),
        "customer": _customer(user),
        "checkout_id": checkout["id"] if checkout else None,
        "checkout_token": checkout["token"] if checkout else None,
        "total_price": f"{total // 100}.{total % 100:02d}",
        "currency": CURRENCY,
        "line_items": order_line_items(order),
        "discount_codes": _discount_codes(order.get("discount_codes", [])),
        "financial_status": "paid",
        "created_at": order.get("created_at"),
        "buyer_accepts_marketing": bool(checkout and checkout["accepts_email_marketing"]),
        # Ours: Shopify keeps SMS consent on the customer; the readers want it with the order.
        "buyer_accepts_sms_marketing": bool(checkout and checkout["accepts_sms_marketing"]),
    }


def cancelled_order_payload(
    order: Doc, user: Doc, checkout: Doc | None, *, cancelled_at: str
) -> Doc:
    """orders/cancelled: the order payload, refunded, with when and why (the store's reason)."""
    return {
        **order_payload(order, user, checkout),
        "financial_status": "refunded",
        "cancelled_at": cancelled_at,
        "cancel_reason": order.get("cancel_reason"),
    }


def fulfillment_payload(
    *, fulfillment_id: str, order: Doc, tracking_number: str, email: str, at: str
) -> Doc:
    """fulfillments/update with shipment_status delivered. ``customer`` is our addition, so
    the reader needs no order lookup to know whose delivery it was."""
    return {
        "id": fulfillment_id,
        "order_id": order["order_id"],
        "status": "success",
        "shipment_status": "delivered",
        "tracking_number": tracking_number,
        "email": email,
        "customer": {"id": order["user_id"]},
        "created_at": at,
        "updated_at": at,
    }
