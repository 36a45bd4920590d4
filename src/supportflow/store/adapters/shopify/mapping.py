"""Shopify's objects in the port's shapes (the demo store's seed vocabulary).

- ``order_id`` is the order's name (``#1001``); ``user_id`` is the customer's GID.
- ``status``: ``cancelled`` when ``cancelledAt`` is set; ``delivered`` when fully fulfilled and
  every live fulfillment is ``DELIVERED``; ``processed`` once anything is fulfilled or in
  progress; ``pending`` otherwise. The raw ``displayFinancialStatus`` /
  ``displayFulfillmentStatus`` are kept under ``external``.
- ``items``: one per line item; ``item_id`` is the variant's GID (as the seed's item ids name
  variants), ``options`` the variant's selected options, ``quantity`` added.
- ``fulfillments``: ``tracking_id`` from ``trackingInfo.number``; ``payment_history`` from
  successful SALE/CAPTURE (payment) and REFUND transactions, ``payment_method_id`` being the
  gateway (``shopify_payments``, ``gift_card``, ...).
- amounts are in the shop's currency (``shopMoney``); orders presented in another currency
  are refunded in shop amounts, which Shopify converts.
- users: ``payment_methods`` is empty (the Admin API does not list a customer's past payment
  instruments); ``orders`` lists order names.
- products: ``product_id`` and each variant's ``item_id`` are GIDs, the ones order items carry;
  ``options`` are named in lower case, as in orders, without Shopify's placeholder ``Title``
  option of products that have no options.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from supportflow.store.adapters.shopify.fields import Doc, dicts, money, nodes, path
from supportflow.store.errors import StoreRejected

PAYMENT_KINDS = frozenset({"SALE", "CAPTURE"})
_DEAD_FULFILLMENTS = frozenset({"CANCELLED", "ERROR", "FAILURE"})
_IN_PROGRESS = frozenset({"FULFILLED", "PARTIALLY_FULFILLED", "IN_PROGRESS", "PENDING_FULFILLMENT"})
_COUNTRY_ALIASES = {"USA": "US", "UNITED STATES": "US", "UNITED STATES OF AMERICA": "US"}
# The option Shopify gives a product without options ("Title: Default Title"): not an option.
_PLACEHOLDER_OPTION = "Title"


def map_order(node: Mapping[str, Any]) -> Doc:
    """A Shopify Order node (as ``ORDER_FIELDS`` selects it) in the seed's order shape."""
    items = []
    for line in nodes(node.get("lineItems")):
        variant = line.get("variant") or {}
        items.append(
            {
                "name": line.get("title"),
                "product_id": path(line, "product", "id"),
                "item_id": variant.get("id") or line.get("id"),
                "price": money(line.get("originalUnitPriceSet")),
                "options": _options(variant.get("selectedOptions")),
                "quantity": line.get("quantity", 1),
                "line_item_id": line.get("id"),
            }
        )
    fulfillments = [
        {
            "tracking_id": [
                str(t["number"]) for t in dicts(f.get("trackingInfo")) if t.get("number")
            ],
            "item_ids": fulfilled_variant_ids(f),
        }
        for f in live_fulfillments(node)
    ]
    payments = []
    for t in dicts(node.get("transactions")):
        if t.get("status") != "SUCCESS":
            continue
        kind = t.get("kind")
        if kind in PAYMENT_KINDS or kind == "REFUND":
            entry = {
                "transaction_type": "refund" if kind == "REFUND" else "payment",
                "amount": money(t.get("amountSet")),
                "payment_method_id": t.get("gateway"),
            }
            if t.get("authorizationCode"):
                # The gateway's own id (a Stripe payment intent for the "stripe" gateway).
                entry["reference"] = str(t["authorizationCode"])
            payments.append(entry)
    return {
        "order_id": node.get("name"),
        "user_id": path(node, "customer", "id"),
        "address": _map_address(node.get("shippingAddress")),
        "items": items,
        "status": _status(node),
        "fulfillments": fulfillments,
        "payment_history": payments,
        "external": {
            "system": "shopify",
            "id": node.get("id"),
            "financial_status": node.get("displayFinancialStatus"),
            "fulfillment_status": node.get("displayFulfillmentStatus"),
            "cancel_reason": node.get("cancelReason"),
            "created_at": node.get("createdAt"),
        },
    }


def map_customer(node: Mapping[str, Any]) -> Doc:
    return {
        "user_id": node.get("id"),
        "name": {"first_name": node.get("firstName"), "last_name": node.get("lastName")},
        "address": _map_address(node.get("defaultAddress")),
        "email": path(node, "defaultEmailAddress", "emailAddress"),
        "phone": path(node, "defaultPhoneNumber", "phoneNumber"),
        "payment_methods": {},
        "orders": [o.get("name") for o in nodes(node.get("orders"))],
    }


def map_products(variants: Iterable[Mapping[str, Any]]) -> list[Doc]:
    """ProductVariant nodes (as ``Q_CATALOGUE`` selects them) grouped into the seed's product
    shape, products in the order their first variant came."""
    products: dict[str, Doc] = {}
    for variant in variants:
        product_id, item_id = path(variant, "product", "id"), variant.get("id")
        if not product_id or not item_id:
            continue
        product = products.setdefault(
            str(product_id),
            {
                "product_id": str(product_id),
                "name": str(path(variant, "product", "title") or ""),
                "variants": {},
            },
        )
        product["variants"][str(item_id)] = {
            "item_id": str(item_id),
            "options": _options(variant.get("selectedOptions")),
            "available": bool(variant.get("availableForSale")),
            "price": _price(variant.get("price")),
        }
    return list(products.values())


def _price(value: object) -> float | None:
    # ``Money`` is a decimal string; anything else is no price rather than a failed catalogue.
    try:
        return float(Decimal(str(value))) if value is not None else None
    except (InvalidOperation, ValueError):
        return None


def _options(selected: object) -> dict[str, Any]:
    return {
        str(o["name"]).lower(): o["value"]
        for o in dicts(selected)
        if o.get("name") and o.get("name") != _PLACEHOLDER_OPTION
    }


def _status(node: Mapping[str, Any]) -> str:
    if node.get("cancelledAt"):
        return "cancelled"
    live = live_fulfillments(node)
    fulfillment_status = node.get("displayFulfillmentStatus")
    if (
        live
        and fulfillment_status == "FULFILLED"
        and all(f.get("displayStatus") == "DELIVERED" for f in live)
    ):
        return "delivered"
    if live or fulfillment_status in _IN_PROGRESS:
        return "processed"
    return "pending"


def _map_address(address: object) -> Doc | None:
    if not isinstance(address, dict):
        return None
    return {
        "address1": address.get("address1") or "",
        "address2": address.get("address2") or "",
        "city": address.get("city") or "",
        "country": address.get("countryCodeV2") or "",
        "state": address.get("provinceCode") or "",
        "zip": address.get("zip") or "",
    }


def normalize_address(address: Mapping[str, str]) -> dict[str, str]:
    """The port's address as Shopify takes it (ISO country code); refused when incomplete."""
    missing = [k for k in ("address1", "city", "state", "country", "zip") if not address.get(k)]
    if missing:
        raise StoreRejected(f"address lacks {', '.join(missing)}", status_code=422)
    country = address["country"].strip().upper()
    country = _COUNTRY_ALIASES.get(country, country)
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise StoreRejected(
            f"country must be an ISO 3166 alpha-2 code for Shopify, not {address['country']!r}",
            status_code=422,
        )
    return {
        "address1": address["address1"].strip(),
        "address2": (address.get("address2") or "").strip(),
        "city": address["city"].strip(),
        "country": country,
        "state": address["state"].strip().upper(),
        "zip": address["zip"].strip(),
    }


def live_fulfillments(node: Mapping[str, Any]) -> list[Doc]:
    return [f for f in dicts(node.get("fulfillments")) if f.get("status") not in _DEAD_FULFILLMENTS]


def fulfilled_variant_ids(fulfillment: Mapping[str, Any]) -> list[str]:
    ids = []
    for entry in nodes(fulfillment.get("fulfillmentLineItems")):
        line = entry.get("lineItem") or {}
        ident = path(line, "variant", "id") or line.get("id")
        if ident:
            ids.append(str(ident))
    return ids
