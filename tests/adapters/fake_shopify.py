"""A small fake of Shopify's Admin GraphQL API (``POST /admin/api/{version}/graphql.json``).

It stands in for a real shop, which this machine cannot reach. It has no GraphQL engine: it
finds the operation's root field and declared variables, checks them against the field's
arguments as the Admin API declares them, and answers with Shopify's JSON (whole objects,
not trimmed to the selection). What it models: auth by ``X-Shopify-Access-Token``, API
versions, ``orders(query: "name:...")`` fuzzy search, customers search, ``orderCancel`` as an
asynchronous ``Job`` that finishes after N polls of ``job(id:)``, ``refundCreate`` against
parent transactions, ``orderUpdate`` of the shipping address, ``userErrors`` /
``orderCancelUserErrors``, ``THROTTLED`` and ``ACCESS_DENIED`` errors, HTTP 401/429/5xx, and
a write that commits and then loses its response; fulfillment orders with
``fulfillmentOrderHold`` (a ``FulfillmentHold`` with the app's ``handle``, unique per app and
fulfillment order; the order shows ``ON_HOLD``) and ``fulfillmentOrderReleaseHold`` (by
``holdIds``, or all holds when none are given); the catalogue as ``productVariants`` (each
variant with its product, cursor-paginated, at most 250 a page), whose variants are the ones
the orders' line items name; ``shop`` with the shop's order name format
(``orderNumberFormatPrefix`` / ``orderNumberFormatSuffix``, "#" and "" unless a test sets them,
renaming the orders with ``ShopifyState.rename_orders``).

Sales (issue 14): code discounts (``discountCodeBasicCreate``, ``discountCodeFreeShippingCreate``
with their 2025-07 inputs, ``codeDiscountNodeByCode`` case-insensitive, a taken code as a
``TAKEN`` user error); abandoned checkouts (``abandonedCheckouts`` with the ``id:<n>`` filter,
``reverse`` and cursors; recovery URLs ``.../checkouts/<token>/recover?key=...`` as Shopify's
samples show; the token itself is not in the GraphQL object); orders searched by
``checkout_token:<token>``; webhook subscriptions (``webhookSubscriptions`` filtered by topics,
``webhookSubscriptionCreate`` refusing non-HTTPS addresses and a topic already subscribed to
the same address). ``denied_fields`` names the scope each field needs (``REQUIRED_ACCESS``).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import functools
import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

Doc = dict[str, Any]

SHOPIFY_TOKEN = "shpat_fake0123456789abcdef0123456789ab"
API_VERSION = "2025-07"
NOW = "2025-07-14T10:00:00Z"

# Arguments of the root fields the adapter uses, as the Admin API declares them.
SIGNATURES: dict[str, dict[str, str]] = {
    "order": {"id": "ID!"},
    "orders": {"first": "Int", "query": "String"},
    "customer": {"id": "ID!"},
    "customers": {"first": "Int", "query": "String"},
    "job": {"id": "ID!"},
    "shop": {},
    "orderCancel": {
        "orderId": "ID!",
        "reason": "OrderCancelReason!",
        "refund": "Boolean",
        "refundMethod": "OrderCancelRefundMethodInput",
        "restock": "Boolean!",
        "notifyCustomer": "Boolean",
        "staffNote": "String",
    },
    "refundCreate": {"input": "RefundInput!"},
    "orderUpdate": {"input": "OrderInput!"},
    "fulfillmentOrderHold": {"id": "ID!", "fulfillmentHold": "FulfillmentOrderHoldInput!"},
    "fulfillmentOrderReleaseHold": {"id": "ID!", "holdIds": "[ID!]", "externalId": "String"},
    "codeDiscountNodeByCode": {"code": "String!"},
    "discountCodeBasicCreate": {"basicCodeDiscount": "DiscountCodeBasicInput!"},
    "discountCodeFreeShippingCreate": {
        "freeShippingCodeDiscount": "DiscountCodeFreeShippingInput!"
    },
    "abandonedCheckouts": {
        "first": "Int",
        "after": "String",
        "last": "Int",
        "before": "String",
        "query": "String",
        "reverse": "Boolean",
        "savedSearchId": "ID",
        "sortKey": "AbandonedCheckoutSortKeys",
    },
    "webhookSubscriptions": {
        "first": "Int",
        "after": "String",
        "last": "Int",
        "before": "String",
        "reverse": "Boolean",
        "sortKey": "WebhookSubscriptionSortKeys",
        "callbackUrl": "URL",
        "format": "WebhookSubscriptionFormat",
        "topics": "[WebhookSubscriptionTopic!]",
        "query": "String",
    },
    "webhookSubscriptionCreate": {
        "topic": "WebhookSubscriptionTopic!",
        "webhookSubscription": "WebhookSubscriptionInput!",
    },
    "productVariants": {
        "first": "Int",
        "after": "String",
        "last": "Int",
        "before": "String",
        "query": "String",
        "reverse": "Boolean",
        "sortKey": "ProductVariantSortKeys",
    },
}
# The most nodes a connection returns at once.
MAX_PAGE = 250
MUTATIONS = frozenset(
    {
        "orderCancel",
        "refundCreate",
        "orderUpdate",
        "fulfillmentOrderHold",
        "fulfillmentOrderReleaseHold",
        "discountCodeBasicCreate",
        "discountCodeFreeShippingCreate",
        "webhookSubscriptionCreate",
    }
)
# The access scope each field needs, for ``denied_fields`` (write_orders unless listed).
REQUIRED_ACCESS = {
    "codeDiscountNodeByCode": "read_discounts",
    "discountCodeBasicCreate": "write_discounts",
    "discountCodeFreeShippingCreate": "write_discounts",
    "abandonedCheckouts": "read_orders",
}
# DiscountCodeBasicInput / DiscountCodeFreeShippingInput as of 2025-07 (``context`` arrives in
# 2025-10), and what creating one requires.
_DISCOUNT_COMMON = frozenset(
    {
        "appliesOncePerCustomer",
        "code",
        "combinesWith",
        "customerSelection",
        "endsAt",
        "minimumRequirement",
        "recurringCycleLimit",
        "startsAt",
        "title",
        "usageLimit",
    }
)
DISCOUNT_BASIC_INPUT = _DISCOUNT_COMMON | {"customerGets"}
DISCOUNT_FREE_SHIPPING_INPUT = _DISCOUNT_COMMON | {
    "appliesOnOneTimePurchase",
    "appliesOnSubscription",
    "destination",
    "maximumShippingPrice",
}
WEBHOOK_TOPICS = frozenset(
    {
        "APP_UNINSTALLED",
        "CHECKOUTS_CREATE",
        "CHECKOUTS_DELETE",
        "CHECKOUTS_UPDATE",
        "CUSTOMERS_CREATE",
        "FULFILLMENTS_CREATE",
        "FULFILLMENTS_UPDATE",
        "ORDERS_CANCELLED",
        "ORDERS_CREATE",
        "ORDERS_FULFILLED",
        "ORDERS_PAID",
        "ORDERS_UPDATED",
    }
)
# WebhookSubscriptionInput as of 2025-07 (the unified ``uri`` arrives in 2025-10).
WEBHOOK_INPUT = frozenset(
    {"callbackUrl", "format", "includeFields", "metafieldNamespaces", "filter"}
)
SHOP_URL = "https://fake-outdoor.myshopify.com"
HOLD_REASONS = frozenset(
    {
        "AWAITING_PAYMENT",
        "AWAITING_RETURN_ITEMS",
        "HIGH_RISK_OF_FRAUD",
        "INCORRECT_ADDRESS",
        "INVENTORY_OUT_OF_STOCK",
        "ONLINE_STORE_POST_PURCHASE_CROSS_SELL",
        "OTHER",
        "UNKNOWN_DELIVERY_DATE",
    }
)
HOLD_INPUT = frozenset(
    {"reason", "reasonNotes", "notifyMerchant", "externalId", "handle", "fulfillmentOrderLineItems"}
)
CANCEL_REASONS = frozenset({"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"})
MAILING_ADDRESS_INPUT = frozenset(
    {
        "address1",
        "address2",
        "city",
        "company",
        "countryCode",
        "firstName",
        "lastName",
        "phone",
        "provinceCode",
        "zip",
    }
)
_OPERATION = re.compile(
    r"^\s*(?P<kind>query|mutation)\s*(?P<name>\w+)?\s*(?:\((?P<vars>[^)]*)\))?\s*\{\s*(?P<field>\w+)",
    re.S,
)
_VARIABLE = re.compile(r"\$(\w+)\s*:\s*([\w\[\]!]+)")


def _money(amount: str | Decimal) -> Doc:
    value = f"{Decimal(amount):.2f}"
    return {
        "shopMoney": {"amount": value, "currencyCode": "USD"},
        "presentmentMoney": {"amount": value, "currencyCode": "USD"},
    }


def _address(first: str, last: str, address1: str, city: str, province: str, zip_code: str) -> Doc:
    return {
        "firstName": first,
        "lastName": last,
        "company": None,
        "phone": None,
        "address1": address1,
        "address2": "",
        "city": city,
        "provinceCode": province,
        "countryCodeV2": "US",
        "zip": zip_code,
    }


class _Ids:
    def __init__(self) -> None:
        self._next = itertools.count(100)

    def gid(self, kind: str) -> str:
        return f"gid://shopify/{kind}/{5_500_000_000_000 + next(self._next)}"


class _Catalogue:
    """The shop's products, as ProductVariant nodes (each with its product) in id order."""

    def __init__(self, ids: _Ids) -> None:
        self._ids = ids
        self._products: dict[str, Doc] = {}
        self.variants: list[Doc] = []

    def variant(
        self, title: str, options: dict[str, str], price: str = "10.00", *, available: bool = True
    ) -> Doc:
        """The variant of product ``title`` with these options, added when new. No options:
        Shopify's placeholder option "Title: Default Title"."""
        selected = [{"name": k, "value": v} for k, v in options.items()] or [
            {"name": "Title", "value": "Default Title"}
        ]
        for v in self.variants:
            if v["product"]["title"] == title and v["selectedOptions"] == selected:
                return v
        if title not in self._products:
            self._products[title] = {"id": self._ids.gid("Product"), "title": title}
        variant = {
            "id": self._ids.gid("ProductVariant"),
            "title": " / ".join(options.values()) or "Default Title",
            "availableForSale": available,
            "price": f"{Decimal(price):.2f}",
            "selectedOptions": selected,
            "product": dict(self._products[title]),
        }
        self.variants.append(variant)
        return variant


def _order(
    ids: _Ids,
    catalogue: _Catalogue,
    number: int,
    customer: str | None,
    address: Doc,
    lines: list[tuple[str, str, dict[str, str], int]],
    payments: list[tuple[str, str]],
    *,
    fulfillments: list[tuple[str, str | None, str | None, str]] | None = None,
    cancelled: bool = False,
    pending_authorization: bool = False,
) -> Doc:
    """An Order node. lines: (title, price, options, quantity); payments: (gateway, amount);
    fulfillments: (displayStatus, carrier, tracking number, status)."""
    line_items = []
    for title, price, options, quantity in lines:
        variant = catalogue.variant(title, options, price)
        line_items.append(
            {
                "id": ids.gid("LineItem"),
                "title": title,
                "quantity": quantity,
                "originalUnitPriceSet": _money(price),
                "product": {"id": variant["product"]["id"]},
                "variant": {"id": variant["id"], "selectedOptions": variant["selectedOptions"]},
            }
        )
    transactions = [
        {
            "id": ids.gid("OrderTransaction"),
            "kind": "SALE",
            "status": "SUCCESS",
            "gateway": gateway,
            "amountSet": _money(amount),
            "parentTransaction": None,
            "createdAt": NOW,
        }
        for gateway, amount in payments
    ]
    if pending_authorization:
        transactions.append(
            {
                "id": ids.gid("OrderTransaction"),
                "kind": "AUTHORIZATION",
                "status": "PENDING",
                "gateway": "shopify_payments",
                "amountSet": _money("10.00"),
                "parentTransaction": None,
                "createdAt": NOW,
            }
        )
    fulfillment_nodes = []
    for display, carrier, number_, status in fulfillments or []:
        fulfillment_nodes.append(
            {
                "id": ids.gid("Fulfillment"),
                "status": status,
                "displayStatus": display,
                "trackingInfo": (
                    [
                        {
                            "company": carrier,
                            "number": number_,
                            "url": f"https://www.ups.com/track?tracknum={number_}",
                        }
                    ]
                    if number_
                    else []
                ),
                "fulfillmentLineItems": {
                    "nodes": [
                        {
                            "quantity": li["quantity"],
                            "lineItem": {"id": li["id"], "variant": li["variant"]},
                        }
                        for li in line_items
                    ]
                },
            }
        )
    fulfilled = any(f["status"] == "SUCCESS" for f in fulfillment_nodes)
    fulfillment_orders = [
        {
            "id": ids.gid("FulfillmentOrder"),
            "status": "CLOSED" if fulfilled else "OPEN",
            "fulfillmentHolds": [],
        }
    ]
    node: Doc = {
        "id": ids.gid("Order"),
        "name": f"#{number}",
        "createdAt": NOW,
        "cancelledAt": None,
        "cancelReason": None,
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "FULFILLED" if fulfilled else "UNFULFILLED",
        "customer": {"id": customer} if customer else None,
        "shippingAddress": address,
        "lineItems": {"nodes": line_items},
        "fulfillments": fulfillment_nodes,
        "transactions": transactions,
        "refunds": [],
        "fulfillmentOrders": {"nodes": fulfillment_orders},
    }
    if cancelled:
        _apply_cancel(ids, node, "CUSTOMER", refund=True, when="2025-06-01T09:00:00Z")
    return node


def _apply_cancel(ids: _Ids, node: Doc, reason: str, *, refund: bool, when: str = NOW) -> None:
    node["cancelledAt"] = when
    node["cancelReason"] = reason
    for fo in node["fulfillmentOrders"]["nodes"]:
        if fo["status"] != "CLOSED":
            fo["status"], fo["fulfillmentHolds"] = "CLOSED", []
    if refund:
        for parent, left in _refundable(node).items():
            if left > 0:
                _add_refund_transaction(ids, node, parent, left)
        node["displayFinancialStatus"] = "REFUNDED"


def _refundable(node: Doc) -> dict[str, Decimal]:
    left: dict[str, Decimal] = {}
    for t in node["transactions"]:
        if t["kind"] in ("SALE", "CAPTURE") and t["status"] == "SUCCESS":
            left[t["id"]] = Decimal(t["amountSet"]["shopMoney"]["amount"])
    for t in node["transactions"]:
        parent = (t.get("parentTransaction") or {}).get("id")
        if t["kind"] == "REFUND" and t["status"] == "SUCCESS" and parent in left:
            left[parent] -= Decimal(t["amountSet"]["shopMoney"]["amount"])
    return left


def _add_refund_transaction(ids: _Ids, node: Doc, parent_id: str, amount: Decimal) -> Doc:
    parent = next(t for t in node["transactions"] if t["id"] == parent_id)
    transaction = {
        "id": ids.gid("OrderTransaction"),
        "kind": "REFUND",
        "status": "SUCCESS",
        "gateway": parent["gateway"],
        "amountSet": _money(amount),
        "parentTransaction": {"id": parent_id},
        "createdAt": NOW,
    }
    node["transactions"].append(transaction)
    return transaction


@dataclass
class ShopifyState:
    """The shop's data and the knobs tests turn. ``calls`` records (root field, variables)."""

    job_polls: int = 2
    orders: dict[str, Doc] = field(default_factory=dict)
    customers: dict[str, Doc] = field(default_factory=dict)
    jobs: dict[str, Doc] = field(default_factory=dict)
    calls: list[tuple[str, Doc]] = field(default_factory=list)
    throttle_next: int = 0
    # Seconds every answer takes (a slow shop).
    latency_s: float = 0.0
    http_errors_next: list[int] = field(default_factory=list)
    lose_response_of: set[str] = field(default_factory=set)
    denied_fields: set[str] = field(default_factory=set)
    # Sales: code discounts (DiscountCodeNode by GID), abandoned checkouts (id order) and the
    # tokens Shopify keeps out of the GraphQL object, orders' checkout tokens, webhooks.
    discounts: dict[str, Doc] = field(default_factory=dict)
    checkouts: list[Doc] = field(default_factory=list)
    checkout_tokens: dict[str, str] = field(default_factory=dict)
    order_checkout_tokens: dict[str, str] = field(default_factory=dict)
    webhooks: list[Doc] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: _Ids = field(default_factory=_Ids)
    catalogue: _Catalogue = field(default_factory=lambda: _Catalogue(_Ids()))
    # The shop's order name format (Settings > General > Order ID format).
    order_prefix: str = "#"
    order_suffix: str = ""

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.job_polls = 2
            self.jobs.clear()
            self.calls.clear()
            self.throttle_next = 0
            self.latency_s = 0.0
            self.http_errors_next.clear()
            self.lose_response_of.clear()
            self.denied_fields.clear()
            self.discounts.clear()
            self.checkouts.clear()
            self.checkout_tokens.clear()
            self.order_checkout_tokens.clear()
            self.webhooks.clear()
            self.ids = _Ids()
            self.catalogue = _Catalogue(self.ids)
            self.orders.clear()
            self.customers.clear()
            self.order_prefix, self.order_suffix = "#", ""
            self._seed()

    def rename_orders(self, prefix: str, suffix: str = "") -> None:
        """The shop as if it had always used this order name format."""
        with self.lock:
            self.order_prefix, self.order_suffix = prefix, suffix
            for order in self.orders.values():
                order["name"] = f"{prefix}{order['name'].lstrip('#')}{suffix}"
            for customer in self.customers.values():
                for node in customer["orders"]["nodes"]:
                    node["name"] = f"{prefix}{node['name'].lstrip('#')}{suffix}"

    def finish_jobs(self) -> None:
        """Run pending cancel jobs to completion, as Shopify does whether or not anyone polls."""
        with self.lock:
            for job in self.jobs.values():
                if not job["done"]:
                    _apply_cancel(
                        self.ids, self.orders[job["order_id"]], job["reason"], refund=job["refund"]
                    )
                    job["done"] = True

    def by_name(self, name: str) -> Doc:
        return next(o for o in self.orders.values() if o["name"] == name)

    def mutations(self, root: str) -> list[Doc]:
        return [variables for name, variables in self.calls if name == root]

    def add_checkout(
        self,
        token: str,
        customer: str | None,
        lines: list[tuple[str, str, dict[str, str], int]],
        *,
        completed_order: str | None = None,
        created_at: str = "2025-07-13T18:00:00Z",
    ) -> Doc:
        """An abandoned checkout (lines: title, price, options, quantity), recovered into
        ``completed_order`` (an order's name) when given."""
        with self.lock:
            return self._add_checkout(
                token, customer, lines, completed_order=completed_order, created_at=created_at
            )

    def _add_checkout(
        self,
        token: str,
        customer: str | None,
        lines: list[tuple[str, str, dict[str, str], int]],
        *,
        completed_order: str | None,
        created_at: str,
    ) -> Doc:
        line_nodes = []
        total = Decimal(0)
        for title, price, options, quantity in lines:
            variant = self.catalogue.variant(title, options, price)
            line_nodes.append(
                {
                    "id": self.ids.gid("AbandonedCheckoutLineItem"),
                    "title": title,
                    "quantity": quantity,
                    "variant": {"id": variant["id"]},
                    "product": {"id": variant["product"]["id"]},
                    "originalUnitPriceSet": _money(price),
                }
            )
            total += Decimal(price) * quantity
        person = self.customers.get(customer) if customer else None
        node = {
            "id": self.ids.gid("AbandonedCheckout"),
            "name": f"#{len(self.checkouts) + 1}",
            "abandonedCheckoutUrl": f"{SHOP_URL}/548380009/checkouts/{token}/recover"
            f"?key=k{len(self.checkouts)}",
            "completedAt": None,
            "createdAt": created_at,
            "updatedAt": created_at,
            "customer": (
                {
                    "id": person["id"],
                    "defaultEmailAddress": person["defaultEmailAddress"],
                    "defaultPhoneNumber": person["defaultPhoneNumber"],
                }
                if person
                else None
            ),
            "shippingAddress": None,
            "discountCodes": [],
            "totalPriceSet": _money(total),
            "lineItems": {"nodes": line_nodes},
        }
        self.checkouts.append(node)
        self.checkout_tokens[node["id"]] = token
        if completed_order is not None:
            node["completedAt"] = "2025-07-13T19:00:00Z"
            self.order_checkout_tokens[self.by_name(completed_order)["id"]] = token
        return node

    def discount(self, code: str) -> Doc | None:
        """The code discount with this code (case-insensitive), as stored."""
        return _discount_by_code(self, code)

    def _seed(self) -> None:
        ids = self.ids
        order = functools.partial(_order, ids, self.catalogue)
        ava = ids.gid("Customer")
        avery = ids.gid("Customer")
        ava_home = _address("Ava", "Moore", "996 Cedar Street", "San Antonio", "TX", "78234")
        self.customers[ava] = {
            "id": ava,
            "firstName": "Ava",
            "lastName": "Moore",
            "defaultEmailAddress": {"emailAddress": "ava.moore@example.com"},
            "defaultPhoneNumber": {"phoneNumber": "+15125550101"},
            "defaultAddress": ava_home,
            "addresses": [ava_home, {**ava_home, "zip": "78701", "city": "Austin"}],
            "orders": {"nodes": []},
        }
        self.customers[avery] = {  # a near miss for fuzzy search
            "id": avery,
            "firstName": "Ava",
            "lastName": "Moorehouse",
            "defaultEmailAddress": {"emailAddress": "ava.moore@example.com.au"},
            "defaultPhoneNumber": None,
            "defaultAddress": _address("Ava", "Moorehouse", "1 Pitt St", "Sydney", "NSW", "2000"),
            "addresses": [],
            "orders": {"nodes": []},
        }
        kettle = ("Electric Kettle", "158.90", {"Capacity": "1.5L", "Color": "silver"}, 1)
        bottle = ("Water Bottle", "47.76", {"Capacity": "750ml", "Color": "red"}, 2)
        boots = ("Hiking Boots", "244.34", {"Size": "7", "Material": "leather"}, 1)
        ups = "UPS"
        orders = [
            order(1001, ava, ava_home, [kettle, bottle], [("shopify_payments", "254.42")]),
            order(
                1002,
                ava,
                ava_home,
                [boots],
                [("shopify_payments", "244.34")],
                fulfillments=[("DELIVERED", ups, "1Z999AA10123456784", "SUCCESS")],
            ),
            order(1003, ava, ava_home, [kettle], [("shopify_payments", "158.90")], cancelled=True),
            order(
                1004,
                ava,
                ava_home,
                [boots],
                [("gift_card", "44.34"), ("shopify_payments", "200.00")],
            ),
            order(
                1005,
                ava,
                ava_home,
                [bottle],
                [("shopify_payments", "85.52")],
                pending_authorization=True,
            ),
            order(
                1006,
                ava,
                ava_home,
                [kettle],
                [("shopify_payments", "158.90")],
                fulfillments=[
                    ("CANCELED", ups, "1Z999AA10000000001", "CANCELLED"),
                    ("IN_TRANSIT", ups, "1Z999AA10123456785", "SUCCESS"),
                ],
            ),
            order(10010, avery, ava_home, [kettle], [("shopify_payments", "158.90")]),
            # Paid through Stripe directly: the payment intent is the authorization code.
            order(1007, ava, ava_home, [bottle], [("stripe", "50.00")]),
        ]
        orders[-1]["transactions"][0]["authorizationCode"] = "pi_3PaidFullyAAAA"
        for order in orders:
            self.orders[order["id"]] = order
            customer = order["customer"]
            if customer:
                self.customers[customer["id"]]["orders"]["nodes"].append({"name": order["name"]})
            # Contact and total, as the Order object has them (read for checkouts).
            person = self.customers[customer["id"]] if customer else {}
            order["email"] = (person.get("defaultEmailAddress") or {}).get("emailAddress")
            order["phone"] = None
            order["totalPriceSet"] = _money(
                sum(
                    (
                        Decimal(li["originalUnitPriceSet"]["shopMoney"]["amount"]) * li["quantity"]
                        for li in order["lineItems"]["nodes"]
                    ),
                    Decimal(0),
                )
            )
        # The rest of the catalogue: other variants of what was ordered, a product the demo
        # store does not sell, and one without options.
        shop = self.catalogue
        shop.variant("Electric Kettle", {"Capacity": "1.5L", "Color": "black"}, "158.90")
        shop.variant("Water Bottle", {"Capacity": "750ml", "Color": "blue"}, "47.76")
        shop.variant("Hiking Boots", {"Size": "10", "Material": "leather"}, "244.34")
        shop.variant("Hiking Boots", {"Size": "10", "Material": "synthetic"}, "199.00")
        shop.variant("Camp Stove", {"Fuel": "propane"}, "89.00")
        shop.variant("Camp Stove", {"Fuel": "butane"}, "79.00", available=False)
        shop.variant("Trail Map", {}, "12.50")
        # Abandoned checkouts: one still open, one its buyer came back to and paid (#1001).
        self._add_checkout(
            "0123456789abcdef0456456789abcdef",
            ava,
            [("Camp Stove", "89.00", {"Fuel": "propane"}, 1), ("Trail Map", "12.50", {}, 2)],
            completed_order=None,
            created_at="2025-07-13T18:00:00Z",
        )
        self._add_checkout(
            "fedcba9876543210fedcba9876543210",
            ava,
            [kettle, bottle],  # what #1001 holds
            completed_order="#1001",
            created_at="2025-07-13T18:30:00Z",
        )


def _cost(available: float = 1990.0, requested: int = 12) -> Doc:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested if available >= requested else None,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": available,
                "restoreRate": 100.0,
            },
        }
    }


def _errors(*messages: str, code: str | None = None, status: int = 200) -> JSONResponse:
    errors = [{"message": m, **({"extensions": {"code": code}} if code else {})} for m in messages]
    return JSONResponse({"errors": errors, "extensions": _cost()}, status_code=status)


def _compatible(declared: str, expected: str) -> bool:
    # A variable may be stricter (non-null) than the argument, never looser.
    return declared.rstrip("!") == expected.rstrip("!") and (
        declared.endswith("!") or not expected.endswith("!")
    )


def create_shopify_app(state: ShopifyState) -> FastAPI:
    app = FastAPI()

    @app.post("/admin/api/{version}/graphql.json")
    async def graphql(version: str, request: Request) -> JSONResponse:
        if state.latency_s:
            await asyncio.sleep(state.latency_s)
        if request.headers.get("X-Shopify-Access-Token") != SHOPIFY_TOKEN:
            return JSONResponse(
                {
                    "errors": "[API] Invalid API key or access token "
                    "(unrecognized login or wrong password)"
                },
                status_code=401,
            )
        if version != API_VERSION:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"errors": "Unsupported Content-Type"}, status_code=415)
        with state.lock:
            if state.http_errors_next:
                status = state.http_errors_next.pop(0)
                if status == 429:
                    return JSONResponse(
                        {"errors": "Exceeded 2 calls per second for api client."},
                        status_code=429,
                        headers={"Retry-After": "2.0"},
                    )
                return JSONResponse({"errors": "Internal Server Error"}, status_code=status)
            if state.throttle_next > 0:
                state.throttle_next -= 1
                return JSONResponse(
                    {
                        "errors": [
                            {
                                "message": "Throttled",
                                "extensions": {
                                    "code": "THROTTLED",
                                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                                },
                            }
                        ],
                        "extensions": _cost(available=52.0, requested=752),
                    }
                )
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return JSONResponse(
                {"errors": {"query": "Required parameter missing or invalid"}}, status_code=400
            )
        query: str = body["query"]
        variables: Doc = body.get("variables") or {}
        match = _OPERATION.match(query)
        if match is None:
            return _errors("syntax error, unexpected end of file")
        root = match["field"]
        if root not in SIGNATURES:
            return _errors(f"Field '{root}' doesn't exist on type 'QueryRoot'")
        if (match["kind"] == "mutation") != (root in MUTATIONS):
            return _errors(f"Field '{root}' doesn't exist on type '{match['kind']}'")
        declared = dict(_VARIABLE.findall(match["vars"] or ""))
        problems = _check_variables(root, declared, variables)
        if problems:
            return _errors(*problems)
        if root == "orderCancel" and not all(
            f in query for f in ("job", "done", "orderCancelUserErrors")
        ):
            return _errors("selection must ask for job { id done } and orderCancelUserErrors")
        if root in state.denied_fields:
            response = JSONResponse(
                {
                    "data": {root: None},
                    "errors": [
                        {
                            "message": f"Access denied for {root} field. "
                            f"Required access: `{REQUIRED_ACCESS.get(root, 'write_orders')}` "
                            "access scope.",
                            "extensions": {
                                "code": "ACCESS_DENIED",
                                "requiredAccess": f"`{REQUIRED_ACCESS.get(root, 'write_orders')}` "
                                "access scope.",
                            },
                        }
                    ],
                    "extensions": _cost(),
                }
            )
            return response
        with state.lock:
            state.calls.append((root, copy.deepcopy(variables)))
            result = _RESOLVERS[root](state, {**_literal_arguments(query, match), **variables})
            if isinstance(result, JSONResponse):
                return result
            if root in state.lose_response_of:
                state.lose_response_of.discard(root)  # committed; the answer gets lost
                return JSONResponse({"errors": "Bad Gateway"}, status_code=502)
            return JSONResponse({"data": {root: result}, "extensions": _cost()})

    return app


def _literal_arguments(query: str, match: re.Match[str]) -> Doc:
    """The root field's literal number and boolean arguments (``orders(first: 5, ...)``): a
    GraphQL server takes them like variables, so the resolvers see them too."""
    arguments = re.match(r"\s*\(([^)]*)\)", query[match.end() :])
    if arguments is None:
        return {}
    literals: Doc = {}
    for name, value in re.findall(r"(\w+)\s*:\s*(\d+|true|false)\b", arguments.group(1)):
        literals[name] = int(value) if value.isdigit() else value == "true"
    return literals


def _check_variables(root: str, declared: dict[str, str], variables: Doc) -> list[str]:
    signature = SIGNATURES[root]
    problems = []
    for name, kind in declared.items():
        if name not in signature:
            problems.append(f"Variable ${name} is declared by {root} but not used")
        elif not _compatible(kind, signature[name]):
            problems.append(
                f"Type mismatch on variable ${name} and argument {name} "
                f"({kind} / {signature[name]})"
            )
        elif kind.endswith("!") and variables.get(name) is None:
            problems.append(f"Variable ${name} of type {kind} was provided invalid value")
    for name, kind in signature.items():
        if kind.endswith("!") and name not in declared and name not in ("first",):
            problems.append(f"Field '{root}' is missing required arguments: {name}")
    for name in variables:
        if name not in declared:
            problems.append(f"Variable ${name} is provided but not declared")
    return problems


# -- resolvers ---------------------------------------------------------------------------------


def _gid_or_error(value: object, kind: str) -> str | JSONResponse:
    if not isinstance(value, str) or not value.startswith(f"gid://shopify/{kind}/"):
        return _errors(f"Invalid global id '{value}'", code="argumentLiteralsIncompatible")
    return value


def _resolve_order(state: ShopifyState, variables: Doc) -> Any:
    gid = _gid_or_error(variables["id"], "Order")
    return gid if isinstance(gid, JSONResponse) else copy.deepcopy(state.orders.get(gid))


def _resolve_orders(state: ShopifyState, variables: Doc) -> Any:
    query = str(variables.get("query") or "")
    by_token = re.fullmatch(r"checkout_token:\"?([\w-]+)\"?", query.strip())
    if by_token is not None:  # an exact filter, unlike the name search
        found = [
            o
            for o in state.orders.values()
            if state.order_checkout_tokens.get(o["id"]) == by_token.group(1)
        ]
        return {"nodes": copy.deepcopy(found[: int(variables.get("first") or 5)])}
    term = re.search(r"name:\"?#?([\w-]+)", query)
    found = [
        o
        for o in state.orders.values()
        if term is None or o["name"].lstrip("#").startswith(term.group(1))  # fuzzy, like search
    ]
    return {"nodes": copy.deepcopy(found[: int(variables.get("first") or 5)])}


def _resolve_customer(state: ShopifyState, variables: Doc) -> Any:
    gid = _gid_or_error(variables["id"], "Customer")
    return gid if isinstance(gid, JSONResponse) else copy.deepcopy(state.customers.get(gid))


def _resolve_customers(state: ShopifyState, variables: Doc) -> Any:
    terms = dict(re.findall(r'(\w+):"([^"]*)"', str(variables.get("query") or "")))

    def fields(c: Doc) -> dict[str, str]:
        return {
            "email": ((c.get("defaultEmailAddress") or {}).get("emailAddress") or ""),
            "phone": ((c.get("defaultPhoneNumber") or {}).get("phoneNumber") or ""),
            "first_name": c["firstName"],
            "last_name": c["lastName"],
        }

    found = [
        c
        for c in state.customers.values()
        if all(v.lower() in fields(c).get(k, "").lower() for k, v in terms.items())
    ]
    return {"nodes": copy.deepcopy(found)}


def _resolve_job(state: ShopifyState, variables: Doc) -> Any:
    gid = _gid_or_error(variables["id"], "Job")
    if isinstance(gid, JSONResponse):
        return gid
    job = state.jobs.get(gid)
    if job is None:
        return None
    if not job["done"]:
        job["polls_left"] -= 1
        if job["polls_left"] <= 0:
            order = state.orders[job["order_id"]]
            _apply_cancel(state.ids, order, job["reason"], refund=job["refund"])
            job["done"] = True
    return {"id": gid, "done": job["done"]}


def _user_error(field: list[str], message: str, code: str | None = None) -> Doc:
    return {"field": field, "message": message, **({"code": code} if code else {})}


def _resolve_order_cancel(state: ShopifyState, variables: Doc) -> Any:
    reason = variables["reason"]
    if reason not in CANCEL_REASONS:
        return _errors("Variable $reason of type OrderCancelReason! was provided invalid value")
    order = state.orders.get(str(variables["orderId"]))
    errors: list[Doc] = []
    if order is None:
        errors.append(_user_error(["orderId"], "Order does not exist", "NOT_FOUND"))
    elif order["cancelledAt"]:
        errors.append(_user_error(["orderId"], "Order has already been cancelled", "INVALID"))
    elif any(
        t["kind"] == "AUTHORIZATION" and t["status"] == "PENDING" for t in order["transactions"]
    ):
        errors.append(
            _user_error(
                ["orderId"], "Cannot cancel an order with pending payment authorizations", "INVALID"
            )
        )
    elif any(f["status"] == "SUCCESS" for f in order["fulfillments"]):
        errors.append(
            _user_error(["orderId"], "Cannot cancel an order with fulfillments", "INVALID")
        )
    if errors or order is None:
        return {
            "job": None,
            "orderCancelUserErrors": errors,
            "userErrors": [{k: e[k] for k in ("field", "message")} for e in errors],
        }
    refund_method = variables.get("refundMethod") or {}
    refund = bool(refund_method.get("originalPaymentMethodsRefund") or variables.get("refund"))
    job_id = state.ids.gid("Job")
    state.jobs[job_id] = {
        "order_id": order["id"],
        "reason": reason,
        "refund": refund,
        "polls_left": state.job_polls,
        "done": False,
    }
    return {"job": {"id": job_id, "done": False}, "orderCancelUserErrors": [], "userErrors": []}


def _resolve_refund_create(state: ShopifyState, variables: Doc) -> Any:
    data = variables["input"]
    allowed = {
        "orderId",
        "note",
        "notify",
        "transactions",
        "refundLineItems",
        "shipping",
        "currency",
    }
    unknown = set(data) - allowed
    if unknown:
        return _errors(f"RefundInput does not accept argument(s): {sorted(unknown)}")
    order = state.orders.get(str(data.get("orderId")))
    if order is None:
        return {"refund": None, "userErrors": [_user_error(["orderId"], "Order does not exist")]}
    left = _refundable(order)
    kinds = {t["id"]: t for t in order["transactions"]}
    planned: list[tuple[str, Decimal]] = []
    for i, t in enumerate(data.get("transactions") or []):
        where = ["transactions", str(i)]
        parent = kinds.get(t.get("parentId"))
        if t.get("kind") != "REFUND":
            return {
                "refund": None,
                "userErrors": [_user_error([*where, "kind"], "Kind is invalid")],
            }
        if parent is None or parent["id"] not in left:
            return {
                "refund": None,
                "userErrors": [_user_error([*where, "parentId"], "Parent transaction is invalid")],
            }
        if t.get("gateway") != parent["gateway"]:
            return {
                "refund": None,
                "userErrors": [_user_error([*where, "gateway"], "Gateway is invalid")],
            }
        if t.get("orderId") not in (None, order["id"]):
            return {
                "refund": None,
                "userErrors": [_user_error([*where, "orderId"], "Order is invalid")],
            }
        amount = Decimal(str(t.get("amount")))
        already = sum((a for p, a in planned if p == parent["id"]), Decimal(0))
        if amount <= 0 or amount + already > left[parent["id"]]:
            return {
                "refund": None,
                "userErrors": [
                    _user_error(
                        [*where, "amount"],
                        "Amount cannot be greater than the refundable amount "
                        f"{left[parent['id']]:.2f}",
                    )
                ],
            }
        planned.append((parent["id"], amount))
    if not planned:
        return {
            "refund": None,
            "userErrors": [_user_error(["transactions"], "Refund amount must be greater than 0")],
        }
    for parent_id, amount in planned:
        _add_refund_transaction(state.ids, order, parent_id, amount)
    refund = {
        "id": state.ids.gid("Refund"),
        "note": data.get("note"),
        "createdAt": NOW,
        "totalRefundedSet": _money(sum((a for _, a in planned), Decimal(0))),
    }
    order["refunds"].append(refund)
    remaining = sum(_refundable(order).values(), Decimal(0))
    order["displayFinancialStatus"] = "REFUNDED" if remaining <= 0 else "PARTIALLY_REFUNDED"
    return {"refund": copy.deepcopy(refund), "userErrors": []}


def _resolve_order_update(state: ShopifyState, variables: Doc) -> Any:
    data = variables["input"]
    order = state.orders.get(str(data.get("id")))
    if order is None:
        return {"order": None, "userErrors": [_user_error(["id"], "Order does not exist")]}
    address = data.get("shippingAddress")
    if address is not None:
        unknown = set(address) - MAILING_ADDRESS_INPUT
        if unknown:
            return _errors(f"MailingAddressInput does not accept argument(s): {sorted(unknown)}")
        if not re.fullmatch(r"[A-Z]{2}", str(address.get("countryCode") or "")):
            return _errors(
                "Variable $input of type OrderInput! was provided invalid value for "
                "shippingAddress.countryCode"
            )
        if address["countryCode"] == "US" and not re.fullmatch(
            r"\d{5}(-\d{4})?", str(address.get("zip") or "")
        ):
            return {
                "order": None,
                "userErrors": [_user_error(["shippingAddress", "zip"], "Zip is invalid")],
            }
        order["shippingAddress"] = {
            "firstName": address.get("firstName"),
            "lastName": address.get("lastName"),
            "company": address.get("company"),
            "phone": address.get("phone"),
            "address1": address.get("address1"),
            "address2": address.get("address2"),
            "city": address.get("city"),
            "provinceCode": address.get("provinceCode"),
            "countryCodeV2": address["countryCode"],
            "zip": address.get("zip"),
        }
    return {"order": {"id": order["id"]}, "userErrors": []}


def _fulfillment_order(state: ShopifyState, gid: str) -> tuple[Doc, Doc] | None:
    for order in state.orders.values():
        for fo in order["fulfillmentOrders"]["nodes"]:
            if fo["id"] == gid:
                return order, fo
    return None


def _refresh_hold_status(order: Doc) -> None:
    nodes = order["fulfillmentOrders"]["nodes"]
    if order["cancelledAt"] or order["displayFulfillmentStatus"] not in ("UNFULFILLED", "ON_HOLD"):
        return
    held = any(fo["status"] == "ON_HOLD" for fo in nodes)
    order["displayFulfillmentStatus"] = "ON_HOLD" if held else "UNFULFILLED"


def _resolve_fulfillment_order_hold(state: ShopifyState, variables: Doc) -> Any:
    gid = _gid_or_error(variables["id"], "FulfillmentOrder")
    if isinstance(gid, JSONResponse):
        return gid
    hold_input = variables["fulfillmentHold"]
    unknown = set(hold_input) - HOLD_INPUT
    if unknown:
        return _errors(f"FulfillmentOrderHoldInput does not accept argument(s): {sorted(unknown)}")
    if hold_input.get("reason") not in HOLD_REASONS:
        return _errors(
            "Variable $fulfillmentHold of type FulfillmentOrderHoldInput! was provided invalid "
            "value for reason"
        )
    found = _fulfillment_order(state, gid)
    if found is None:
        return {
            "fulfillmentHold": None,
            "fulfillmentOrder": None,
            "userErrors": [_user_error(["id"], "Fulfillment order does not exist.", "NOT_FOUND")],
        }
    order, fo = found
    handle = hold_input.get("handle")
    if fo["status"] not in ("OPEN", "ON_HOLD", "SCHEDULED"):
        problem = _user_error(
            ["id"], "The fulfillment order's status must be open or on hold.", "INVALID"
        )
    elif any(h.get("handle") == handle for h in fo["fulfillmentHolds"]):
        problem = _user_error(
            ["fulfillmentHold", "handle"],
            "The handle provided for the fulfillment hold is already in use by this app for "
            "another hold on this fulfillment order.",
            "DUPLICATE_FULFILLMENT_HOLD_HANDLE",
        )
    else:
        problem = None
    if problem is not None:
        return {"fulfillmentHold": None, "fulfillmentOrder": None, "userErrors": [problem]}
    hold = {
        "id": state.ids.gid("FulfillmentHold"),
        "handle": handle,
        "reason": hold_input["reason"],
        "reasonNotes": hold_input.get("reasonNotes"),
        "heldByRequestingApp": True,
    }
    fo["fulfillmentHolds"].append(hold)
    fo["status"] = "ON_HOLD"
    _refresh_hold_status(order)
    return {
        "fulfillmentHold": copy.deepcopy(hold),
        "fulfillmentOrder": {"id": fo["id"], "status": fo["status"]},
        "remainingFulfillmentOrder": None,
        "userErrors": [],
    }


def _resolve_fulfillment_order_release_hold(state: ShopifyState, variables: Doc) -> Any:
    gid = _gid_or_error(variables["id"], "FulfillmentOrder")
    if isinstance(gid, JSONResponse):
        return gid
    found = _fulfillment_order(state, gid)
    if found is None:
        return {
            "fulfillmentOrder": None,
            "userErrors": [_user_error(["id"], "Fulfillment order does not exist.", "NOT_FOUND")],
        }
    order, fo = found
    if fo["status"] != "ON_HOLD":
        return {
            "fulfillmentOrder": None,
            "userErrors": [
                _user_error(["id"], "The fulfillment order is not in a holdable state.", "INVALID")
            ],
        }
    wanted = variables.get("holdIds")
    # Holds are only released if they belong to this fulfillment order; none given: all.
    fo["fulfillmentHolds"] = [
        h for h in fo["fulfillmentHolds"] if wanted is not None and h["id"] not in wanted
    ]
    if not fo["fulfillmentHolds"]:
        fo["status"] = "OPEN"
    _refresh_hold_status(order)
    return {"fulfillmentOrder": {"id": fo["id"], "status": fo["status"]}, "userErrors": []}


def _resolve_product_variants(state: ShopifyState, variables: Doc) -> Any:
    first = variables.get("first")
    if first is None:
        return _errors("you must provide one of first or last")
    if not 0 <= int(first) <= MAX_PAGE:
        return _errors(f"The first argument must be between 0 and {MAX_PAGE}")
    variants = state.catalogue.variants
    start = 0
    after = variables.get("after")
    if after is not None:
        try:
            start = int(base64.b64decode(str(after)).decode().removeprefix("variant:")) + 1
        except ValueError:
            return _errors(f"Invalid cursor for current pagination: {after}")
    page = variants[start : start + int(first)]
    end = start + len(page) - 1
    cursor = base64.b64encode(f"variant:{end}".encode()).decode() if page else None
    return {
        "nodes": copy.deepcopy(page),
        "pageInfo": {
            "hasNextPage": start + len(page) < len(variants),
            "hasPreviousPage": start > 0,
            "startCursor": base64.b64encode(f"variant:{start}".encode()).decode() if page else None,
            "endCursor": cursor,
        },
    }


def _resolve_shop(state: ShopifyState, variables: Doc) -> Any:
    return {
        "id": "gid://shopify/Shop/1",
        "name": "Fake Outdoor Shop",
        "orderNumberFormatPrefix": state.order_prefix,
        "orderNumberFormatSuffix": state.order_suffix,
    }


# -- sales (issue 14) --------------------------------------------------------------------------


def _discount_by_code(state: ShopifyState, code: str) -> Doc | None:
    wanted = code.strip().casefold()
    for node in state.discounts.values():
        codes = node["codeDiscount"]["codes"]["nodes"]
        if any(c["code"].casefold() == wanted for c in codes):
            return node
    return None


def _discount_problems(state: ShopifyState, argument: str, data: Doc) -> list[Doc]:
    """The userErrors Shopify gives a code discount it will not create."""
    problems: list[Doc] = []
    for name in ("title", "code", "startsAt", "customerSelection"):
        if data.get(name) in (None, ""):
            problems.append(_user_error([argument, name], f"{name} can't be blank", "BLANK"))
    if problems:
        return problems
    if _discount_by_code(state, str(data["code"])) is not None:
        return [
            _user_error(
                [argument, "code"], "Code must be unique. Please try a different code.", "TAKEN"
            )
        ]
    starts, ends = _time(data["startsAt"]), _time(data.get("endsAt"))
    if starts is None or (data.get("endsAt") is not None and ends is None):
        return [_user_error([argument, "endsAt"], "is not a valid DateTime", "INVALID")]
    if ends is not None and ends <= starts:
        return [_user_error([argument, "endsAt"], "Ends at needs to be after starts_at", "INVALID")]
    limit = data.get("usageLimit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        return [
            _user_error(
                [argument, "usageLimit"], "Usage limit must be greater than 0", "GREATER_THAN"
            )
        ]
    selection = data["customerSelection"]
    add = (selection.get("customers") or {}).get("add") or []
    if not selection.get("all") and not add:
        return [
            _user_error(
                [argument, "customerSelection"], "Customer selection can't be blank", "BLANK"
            )
        ]
    for customer in add:
        if customer not in state.customers:
            return [
                _user_error(
                    [argument, "customerSelection", "customers", "add"],
                    "Customer does not exist",
                    "INVALID",
                )
            ]
    return []


def _discount_value(argument: str, gets: Doc) -> Doc | list[Doc]:
    """A CustomerGets value input as the DiscountCustomerGetsValue it becomes."""
    value = gets.get("value") or {}
    if len(value) != 1:
        return [
            _user_error(
                [argument, "customerGets", "value"], "Only one value type can be given", "INVALID"
            )
        ]
    if "percentage" in value:
        percentage = value["percentage"]
        if not isinstance(percentage, int | float) or not 0 < percentage <= 1:
            return [
                _user_error(
                    [argument, "customerGets", "value", "percentage"],
                    "Value must be between 0.0 and 1.0",
                    "VALUE_OUTSIDE_RANGE",
                )
            ]
        return {"__typename": "DiscountPercentage", "percentage": float(percentage)}
    amount = value.get("discountAmount") or {}
    if set(amount) - {"amount", "appliesOnEachItem"} or Decimal(str(amount.get("amount"))) <= 0:
        return [
            _user_error(
                [argument, "customerGets", "value", "discountAmount", "amount"],
                "Value must be greater than 0",
                "GREATER_THAN",
            )
        ]
    return {
        "__typename": "DiscountAmount",
        "amount": {"amount": str(Decimal(str(amount["amount"]))), "currencyCode": "USD"},
        "appliesOnEachItem": bool(amount.get("appliesOnEachItem")),
    }


def _create_discount(state: ShopifyState, argument: str, data: Doc) -> Any:
    basic = argument == "basicCodeDiscount"
    allowed = DISCOUNT_BASIC_INPUT if basic else DISCOUNT_FREE_SHIPPING_INPUT
    kind = "DiscountCodeBasicInput" if basic else "DiscountCodeFreeShippingInput"
    unknown = set(data) - allowed
    if unknown:
        return _errors(f"{kind} does not accept argument(s): {sorted(unknown)}")
    problems = _discount_problems(state, argument, data)
    gets: Doc | list[Doc] | None = None
    if not problems and basic:
        if not isinstance(data.get("customerGets"), dict):
            problems = [_user_error([argument, "customerGets"], "can't be blank", "BLANK")]
        else:
            gets = _discount_value(argument, data["customerGets"])
            if isinstance(gets, list):
                problems = gets
    if not problems and not basic and not (data.get("destination") or {}).get("all"):
        problems = [_user_error([argument, "destination"], "can't be blank", "BLANK")]
    if problems:
        return {"codeDiscountNode": None, "userErrors": problems}
    selection = data["customerSelection"]
    customer_selection: Doc = (
        {"__typename": "DiscountCustomerAll", "allCustomers": True}
        if selection.get("all")
        else {
            "__typename": "DiscountCustomers",
            "customers": [{"id": c} for c in selection["customers"]["add"]],
        }
    )
    discount: Doc = {
        "__typename": "DiscountCodeBasic" if basic else "DiscountCodeFreeShipping",
        "title": data["title"],
        "status": "ACTIVE",
        "startsAt": data["startsAt"],
        "endsAt": data.get("endsAt"),
        "usageLimit": data.get("usageLimit"),
        "appliesOncePerCustomer": bool(data.get("appliesOncePerCustomer")),
        "codes": {"nodes": [{"code": data["code"]}]},
        "customerSelection": customer_selection,
    }
    if basic:
        discount["customerGets"] = {
            "value": gets,
            "items": {"__typename": "AllDiscountItems", "allItems": True},
        }
    node = {"id": state.ids.gid("DiscountCodeNode"), "codeDiscount": discount}
    state.discounts[node["id"]] = node
    return {"codeDiscountNode": copy.deepcopy(node), "userErrors": []}


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else None


def _page(items: list[Doc], variables: Doc, prefix: str) -> Any:
    """One page of ``items`` by ``first`` / ``after``, as a connection."""
    first = variables.get("first")
    if first is None:
        return _errors("you must provide one of first or last")
    if not 0 <= int(first) <= MAX_PAGE:
        return _errors(f"The first argument must be between 0 and {MAX_PAGE}")
    start = 0
    after = variables.get("after")
    if after is not None:
        try:
            start = int(base64.b64decode(str(after)).decode().removeprefix(f"{prefix}:")) + 1
        except ValueError:
            return _errors(f"Invalid cursor for current pagination: {after}")
    page = items[start : start + int(first)]
    end = start + len(page) - 1
    return {
        "nodes": copy.deepcopy(page),
        "pageInfo": {
            "hasNextPage": start + len(page) < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": base64.b64encode(f"{prefix}:{start}".encode()).decode()
            if page
            else None,
            "endCursor": base64.b64encode(f"{prefix}:{end}".encode()).decode() if page else None,
        },
    }


def _resolve_abandoned_checkouts(state: ShopifyState, variables: Doc) -> Any:
    query = str(variables.get("query") or "").strip()
    checkouts = list(state.checkouts)
    if query:
        by_id = re.fullmatch(r"id:(\d+)", query)
        if by_id is None:
            return _errors(f"the fake shop filters abandoned checkouts by id only, not {query!r}")
        checkouts = [c for c in checkouts if c["id"].rsplit("/", 1)[1] == by_id.group(1)]
    if variables.get("reverse"):
        checkouts.reverse()
    return _page(checkouts, variables, "checkout")


def _resolve_webhooks(state: ShopifyState, variables: Doc) -> Any:
    topics = variables.get("topics")
    callback = variables.get("callbackUrl")
    found = [
        w
        for w in state.webhooks
        if (topics is None or w["topic"] in topics)
        and (callback is None or w["endpoint"]["callbackUrl"] == callback)
    ]
    return _page(found, variables, "webhook")


def _create_webhook(state: ShopifyState, variables: Doc) -> Any:
    topic = variables["topic"]
    if topic not in WEBHOOK_TOPICS:
        return _errors(
            "Variable $topic of type WebhookSubscriptionTopic! was provided invalid value"
        )
    data = variables["webhookSubscription"]
    unknown = set(data) - WEBHOOK_INPUT
    if unknown:
        return _errors(f"WebhookSubscriptionInput does not accept argument(s): {sorted(unknown)}")
    if data.get("format", "JSON") not in ("JSON", "XML"):
        return _errors("Variable $webhookSubscription was provided invalid value for format")
    url = str(data.get("callbackUrl") or "")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        problem = _user_error(
            ["webhookSubscription", "callbackUrl"],
            f"Address protocol {parts.scheme or '(none)'}:// is not supported",
        )
        return {"webhookSubscription": None, "userErrors": [problem]}
    host = parts.hostname.rstrip(".")
    if host == "localhost" or host.endswith(".myshopify.com") or host.startswith("127."):
        problem = _user_error(
            ["webhookSubscription", "callbackUrl"],
            "Address cannot be a Shopify or an internal domain",
        )
        return {"webhookSubscription": None, "userErrors": [problem]}
    if any(w["topic"] == topic and w["endpoint"]["callbackUrl"] == url for w in state.webhooks):
        problem = _user_error(["address"], "Address for this topic has already been taken")
        return {"webhookSubscription": None, "userErrors": [problem]}
    webhook = {
        "id": state.ids.gid("WebhookSubscription"),
        "topic": topic,
        "format": data.get("format", "JSON"),
        "createdAt": NOW,
        "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": url},
    }
    state.webhooks.append(webhook)
    return {"webhookSubscription": copy.deepcopy(webhook), "userErrors": []}


_RESOLVERS = {
    "order": _resolve_order,
    "shop": _resolve_shop,
    "orders": _resolve_orders,
    "customer": _resolve_customer,
    "customers": _resolve_customers,
    "job": _resolve_job,
    "orderCancel": _resolve_order_cancel,
    "refundCreate": _resolve_refund_create,
    "orderUpdate": _resolve_order_update,
    "fulfillmentOrderHold": _resolve_fulfillment_order_hold,
    "fulfillmentOrderReleaseHold": _resolve_fulfillment_order_release_hold,
    "productVariants": _resolve_product_variants,
    "codeDiscountNodeByCode": lambda state, variables: copy.deepcopy(
        _discount_by_code(state, str(variables["code"]))
    ),
    "discountCodeBasicCreate": lambda state, variables: _create_discount(
        state, "basicCodeDiscount", variables["basicCodeDiscount"]
    ),
    "discountCodeFreeShippingCreate": lambda state, variables: _create_discount(
        state, "freeShippingCodeDiscount", variables["freeShippingCodeDiscount"]
    ),
    "abandonedCheckouts": lambda state, variables: _resolve_abandoned_checkouts(state, variables),
    "webhookSubscriptions": lambda state, variables: _resolve_webhooks(state, variables),
    "webhookSubscriptionCreate": lambda state, variables: _create_webhook(state, variables),
}
