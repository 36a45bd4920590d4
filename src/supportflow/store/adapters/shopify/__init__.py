"""A Shopify shop behind the store port, over the Admin GraphQL API (httpx, no SDK).

One job a module:

- ``transport``: the GraphQL endpoint, authentication and how Shopify's failures (HTTP
  statuses, ``THROTTLED``, ``ACCESS_DENIED``) become the port's errors;
- ``queries``: the GraphQL documents;
- ``fields`` and ``mapping``: Shopify's objects in the port's shapes (orders, customers,
  products);
- ``reads``: orders, customers, tracking and the catalogue;
- ``writes``: cancel, refund, address, hold and release, each at most once per idempotency
  key (the module says how, since Shopify's mutations take no keys);
- ``adapter``: ``ShopifyAdapter``, all of it as one ``StorePort``, and its capabilities.
"""

from supportflow.store.adapters.shopify.adapter import SHOPIFY_CAPABILITIES, ShopifyAdapter
from supportflow.store.adapters.shopify.fields import CUSTOMER_GID, ORDER_GID
from supportflow.store.adapters.shopify.mapping import map_customer, map_order, map_products
from supportflow.store.adapters.shopify.writes import HOLD_HANDLE_PREFIX, hold_handle

__all__ = [
    "CUSTOMER_GID",
    "HOLD_HANDLE_PREFIX",
    "ORDER_GID",
    "SHOPIFY_CAPABILITIES",
    "ShopifyAdapter",
    "hold_handle",
    "map_customer",
    "map_order",
    "map_products",
]
