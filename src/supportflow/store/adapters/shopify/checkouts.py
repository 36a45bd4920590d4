"""Reading a checkout: Shopify's ``abandonedCheckouts`` (Admin API 2024-10 and later).

The Admin GraphQL API reads abandoned checkouts by id only (the ``id:<number>`` query
filter); its ``AbandonedCheckout`` has no token, and there is no query by token. Checkout
webhooks name a checkout by its ``token`` (the only id in the current payloads), which is the
``checkout_id`` of store events, so ``get_checkout`` takes either:

- an id (``gid://shopify/AbandonedCheckout/<n>`` or ``<n>``): read with ``id:<n>``. A number
  that finds nothing is then tried as a token, since tokens can be all digits.
- a token: first the order placed from it (``orders(query: "checkout_token:<token>")``, a
  documented filter): a checkout that became an order is answered from the order, with
  ``completed_order_id`` set. Otherwise the newest abandoned checkouts are scanned (ids and
  recovery URLs only, ``checkout_scan_pages`` pages of ``checkout_scan_page``) for the one
  whose ``abandonedCheckoutUrl`` carries the token as a path segment, as Shopify's recovery
  URLs do (``.../checkouts/<token>/recover?key=...``); that one is then read by id. An older
  checkout than the scan reaches, or a shop whose recovery URLs name the cart instead
  (``/checkouts/ac/<cart token>/recover``), reads as ``None``.

A completed checkout found by id gets its order through the token in its recovery URL.
The answer is the port's shape; ``id`` is the id asked for (so it matches the store event's
``checkout_id``); ``completed_at`` and ``external`` (Shopify's GID) are added. Email and phone
are the customer's (the GraphQL checkout has no contact fields of its own), the phone falling
back to the shipping address's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from supportflow.store.adapters.shopify.fields import Doc, money, nodes, path
from supportflow.store.adapters.shopify.queries import (
    Q_CHECKOUT,
    Q_CHECKOUT_URLS,
    Q_ORDER_OF_CHECKOUT,
)
from supportflow.store.adapters.shopify.reads import ShopifyReads

CHECKOUT_GID = "gid://shopify/AbandonedCheckout/"
# Tokens are hex in Shopify and word characters in the demo store; anything else cannot be
# one and must not reach a search query.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,100}")
# ".../checkouts/<token>/recover": exactly one segment between the two.
_RECOVERY_PATH = re.compile(r"/checkouts/(?P<token>[A-Za-z0-9_-]+)/recover/?$")


class ShopifyCheckouts(ShopifyReads):
    # How far back a token is looked for: 4 pages of 250, the newest 1,000 checkouts.
    checkout_scan_page = 250
    checkout_scan_pages = 4

    async def get_checkout(self, checkout_id: str) -> Doc | None:
        wanted = checkout_id.strip()
        number = wanted.removeprefix(CHECKOUT_GID)
        if number.isdigit():
            node = await self._checkout_by_number(number)
            if node is not None:
                return await self._checkout_doc(wanted, node, _recovery_token(node))
            if wanted.startswith(CHECKOUT_GID):
                return None
        if not _TOKEN.fullmatch(wanted):
            return None
        order = await self._order_of_checkout(wanted)
        if order is not None:
            return _from_order(wanted, order)
        found = await self._scan_for_token(wanted)
        if found is None:
            return None
        node = await self._checkout_by_number(found)
        return None if node is None else await self._checkout_doc(wanted, node, wanted)

    async def _checkout_by_number(self, number: str) -> Doc | None:
        data = await self.graphql(Q_CHECKOUT, {"query": f"id:{number}"})
        for node in nodes(data.get("abandonedCheckouts")):
            if node.get("id") == CHECKOUT_GID + number:  # a filter, so check what came back
                return node
        return None

    async def _order_of_checkout(self, token: str) -> Doc | None:
        data = await self.graphql(Q_ORDER_OF_CHECKOUT, {"query": f"checkout_token:{token}"})
        found = nodes(data.get("orders"))
        return found[0] if found else None

    async def _scan_for_token(self, token: str) -> str | None:
        """The numeric id of the newest checkout whose recovery URL names ``token``."""
        after: str | None = None
        for _ in range(self.checkout_scan_pages):
            variables = {"first": self.checkout_scan_page, "after": after, "reverse": True}
            connection = (await self._patiently(Q_CHECKOUT_URLS, variables)).get(
                "abandonedCheckouts"
            )
            for node in nodes(connection):
                if _recovery_token(node) == token:
                    return str(node.get("id") or "").removeprefix(CHECKOUT_GID) or None
            after = path(connection, "pageInfo", "endCursor")
            if not path(connection, "pageInfo", "hasNextPage") or not after:
                break
        return None

    async def _checkout_doc(self, wanted: str, node: Mapping[str, Any], token: str | None) -> Doc:
        completed_order_id = None
        if node.get("completedAt") and token:
            order = await self._order_of_checkout(token)
            completed_order_id = order.get("name") if order else None
        customer = node.get("customer") or {}
        return {
            "id": wanted,
            "customer_id": customer.get("id"),
            "email": path(customer, "defaultEmailAddress", "emailAddress"),
            "phone": path(customer, "defaultPhoneNumber", "phoneNumber")
            or path(node, "shippingAddress", "phone"),
            "line_items": _lines(node),
            "total_price": money(node.get("totalPriceSet")),
            "completed_order_id": completed_order_id,
            "completed_at": node.get("completedAt"),
            "abandoned_checkout_url": node.get("abandonedCheckoutUrl"),
            "created_at": node.get("createdAt"),
            "external": {"system": "shopify", "id": node.get("id")},
        }


def _from_order(token: str, order: Mapping[str, Any]) -> Doc:
    """A checkout that became ``order``: what was bought, and the order's name. When the
    checkout itself was created is not on the order (``created_at`` None)."""
    return {
        "id": token,
        "customer_id": path(order, "customer", "id"),
        "email": order.get("email"),
        "phone": order.get("phone"),
        "line_items": _lines(order),
        "total_price": money(order.get("totalPriceSet")),
        "completed_order_id": order.get("name"),
        "completed_at": order.get("createdAt"),
        "abandoned_checkout_url": None,
        "created_at": None,
        "external": {"system": "shopify", "id": None, "order_id": order.get("id")},
    }


def _lines(node: Mapping[str, Any]) -> list[Doc]:
    return [
        {
            # The variant, as the port's item ids name variants (a custom line: the line).
            "item_id": path(line, "variant", "id") or line.get("id"),
            "product_id": path(line, "product", "id"),
            "title": line.get("title") or "",
            "quantity": line.get("quantity", 1),
            "price": money(line.get("originalUnitPriceSet")),
        }
        for line in nodes(node.get("lineItems"))
    ]


def _recovery_token(node: Mapping[str, Any]) -> str | None:
    url = node.get("abandonedCheckoutUrl")
    if not isinstance(url, str):
        return None
    match = _RECOVERY_PATH.search(urlsplit(url).path)
    return match["token"] if match else None
