"""Reads from a shop: orders, customers, tracking and the catalogue.

``get_order`` takes the order's name (``#1001``, or ``SF-1001-EU`` in a shop with its own
prefix and suffix), its number (``1001``) or its GID; Shopify's search is fuzzy, so every search
result is checked for an exact match before it is used. ``order_naming`` reads the shop's
order name format, which understanding uses to read order numbers in customers' messages.
``find_user_by_phone`` searches customers by phone and keeps only an exact, single match.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

from supportflow.store.adapters.shopify.fields import (
    CUSTOMER_GID,
    ORDER_GID,
    Doc,
    dicts,
    digits,
    fold,
    gid,
    nodes,
    path,
    search_value,
)
from supportflow.store.adapters.shopify.mapping import (
    fulfilled_variant_ids,
    live_fulfillments,
    map_customer,
    map_order,
    map_products,
)
from supportflow.store.adapters.shopify.queries import (
    CATALOGUE_PAGE,
    Q_CATALOGUE,
    Q_CUSTOMER,
    Q_CUSTOMERS,
    Q_ORDER,
    Q_ORDERS,
    Q_SHOP_ORDER_NAMING,
)
from supportflow.store.adapters.shopify.transport import ShopifyGraphql
from supportflow.store.errors import StoreNotFound, StoreRejected
from supportflow.store.phones import e164_or_reject, only_account
from supportflow.store.port import OrderNaming, StoreThrottled, TrackingInfo

log = logging.getLogger(__name__)

# Shopify pages through at most 25,000 objects of a connection: 100 pages of 250 variants.
MAX_CATALOGUE_PAGES = 100
# Shopify's order names unless the merchant changed them: "#1001", "#1002", ...
SHOPIFY_ORDER_NAMING = OrderNaming(prefix="#")
# The catalogue's pages come one after another: a throttle half way is waited out (a few
# times, each wait capped) rather than thrown away with the pages already read.
_THROTTLE_WAITS = 5
_MAX_THROTTLE_WAIT_S = 10.0


class ShopifyReads(ShopifyGraphql):
    async def get_order(self, order_id: str) -> Doc | None:
        node = await self._order_node(order_id)
        return None if node is None else map_order(node)

    async def get_user(self, user_id: str) -> Doc | None:
        customer_gid = gid(user_id, CUSTOMER_GID)
        if customer_gid is None:
            return None
        data = await self.graphql(Q_CUSTOMER, {"id": customer_gid})
        node = data.get("customer")
        return map_customer(node) if isinstance(node, dict) else None

    async def find_users(
        self,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        zip: str | None = None,
        phone: str | None = None,
    ) -> list[Doc]:
        """Customers by email, first + last name + zip (of any of their addresses), or phone;
        Shopify's search is fuzzy, so results are filtered to exact (case-insensitive) matches."""
        if email:
            mode, query = "email", f"email:{search_value(email)}"
        elif first_name and last_name and zip:
            first, last = search_value(first_name), search_value(last_name)
            mode, query = "name", f"first_name:{first} last_name:{last}"
        elif phone:
            mode, query = "phone", f"phone:{search_value(re.sub(r'[^0-9+]', '', phone))}"
        else:
            raise StoreRejected(
                "give email, or first_name + last_name + zip, or phone", status_code=422
            )
        data = await self.graphql(Q_CUSTOMERS, {"query": query})
        found = []
        for node in nodes(data.get("customers")):
            if mode == "email":
                match = fold(path(node, "defaultEmailAddress", "emailAddress")) == fold(email)
            elif mode == "name":
                names = (fold(node.get("firstName")), fold(node.get("lastName")))
                zips = {fold(a.get("zip")) for a in dicts(node.get("addresses"))}
                zips.add(fold(path(node, "defaultAddress", "zip")))
                match = names == (fold(first_name), fold(last_name)) and fold(zip) in zips
            else:
                match = digits(path(node, "defaultPhoneNumber", "phoneNumber")) == digits(phone)
            if match:
                found.append(map_customer(node))
        return found

    async def find_user_by_phone(self, phone_e164: str) -> Doc | None:
        """The customer whose default phone is this number (``customers(query:
        "phone:...")``, then the exact match above), or None (none, or several)."""
        return only_account(await self.find_users(phone=e164_or_reject(phone_e164)))

    async def order_naming(self) -> OrderNaming:
        """The shop's order names: its order number prefix and suffix, numbers counting up.
        Settings the shop will not show (a denied or unknown field, refused credentials) or an
        odd answer mean Shopify's default ``#``, an answer like any other; a shop out of reach
        is raised, so the caller asks again soon."""
        try:
            data = await self.graphql(Q_SHOP_ORDER_NAMING, {})
        except StoreRejected as exc:
            log.info(
                "order name format of %s unreadable (%s); using '#'",
                self.base_url,
                type(exc).__name__,
            )
            return SHOPIFY_ORDER_NAMING
        prefix = path(data.get("shop"), "orderNumberFormatPrefix")
        suffix = path(data.get("shop"), "orderNumberFormatSuffix")
        if not isinstance(prefix, str) or not isinstance(suffix, str | None):
            return SHOPIFY_ORDER_NAMING
        return OrderNaming(prefix=prefix.strip(), suffix=(suffix or "").strip())

    async def tracking(self, order_id: str) -> list[TrackingInfo] | None:
        node = await self._order_node(order_id)
        if node is None:
            return None
        found: list[TrackingInfo] = []
        for fulfillment in live_fulfillments(node):
            item_ids = fulfilled_variant_ids(fulfillment)
            for info in dicts(fulfillment.get("trackingInfo")):
                if info.get("number"):
                    found.append(
                        TrackingInfo(
                            tracking_id=str(info["number"]),
                            item_ids=item_ids,
                            carrier=info.get("company"),
                            url=info.get("url"),
                        )
                    )
        return found

    async def list_products(self) -> list[Doc]:
        """The shop's products with their variants (``mapping.map_products``), read as pages
        of ``productVariants``."""
        variants: list[Doc] = []
        after: str | None = None
        for _ in range(MAX_CATALOGUE_PAGES):
            data = await self._patiently(Q_CATALOGUE, {"first": CATALOGUE_PAGE, "after": after})
            connection = data.get("productVariants")
            variants.extend(nodes(connection))
            after = path(connection, "pageInfo", "endCursor")
            if not path(connection, "pageInfo", "hasNextPage") or not after:
                break
        else:
            log.warning(
                "Shopify catalogue at %s has more than %d variants; using the first ones",
                self.base_url,
                MAX_CATALOGUE_PAGES * CATALOGUE_PAGE,
            )
        return map_products(variants)

    async def _patiently(self, query: str, variables: Mapping[str, Any]) -> Doc:
        waits = 0
        while True:
            try:
                return await self.graphql(query, variables)
            except StoreThrottled as exc:
                waits += 1
                if waits > _THROTTLE_WAITS:
                    raise
                await asyncio.sleep(min(exc.retry_after or 1.0, _MAX_THROTTLE_WAIT_S))

    async def _order_node(self, order_id: str) -> Doc | None:
        order_id = order_id.strip()
        if order_id.startswith(ORDER_GID):
            node = (await self.graphql(Q_ORDER, {"id": order_id})).get("order")
            return node if isinstance(node, dict) else None
        # The name as the shop prints it ("#1001", "SF-1001-EU"); a bare number is first
        # Shopify's default "#" name, then itself (a shop without a prefix); another name
        # without its "#" gets it back ("W1001" -> "#W1001"). Misses only cost a second search.
        if order_id.startswith("#"):
            names = [order_id]
        elif order_id.isdigit():
            names = [f"#{order_id}", order_id]
        else:
            names = [order_id, f"#{order_id}"]
        for name in names:
            if not re.fullmatch(r"#?[\w-]{1,40}", name):
                return None
            data = await self.graphql(Q_ORDERS, {"query": f"name:{name}"})
            for node in nodes(data.get("orders")):
                if fold(node.get("name")) == fold(name):  # search is fuzzy: exact match only
                    return node
        return None

    async def _require_order(self, order_id: str) -> Doc:
        node = await self._order_node(order_id)
        if node is None:
            raise StoreNotFound(f"order {order_id} not found")
        return node
