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
- ``discounts``: the sales agent's one-off discount codes, at most once per key;
- ``checkouts``: a checkout by id or token (``abandonedCheckouts``, the order placed from it);
- ``webhook_subscriptions``: the shop's order, checkout and fulfillment webhooks to our endpoint;
- ``adapter``: ``ShopifyAdapter``, all of it as one ``StorePort``, and its capabilities.

Access scopes the app's token needs (Admin API 2025-07):

- ``read_orders``: orders, tracking, abandoned checkouts (the staff member behind a custom
  app also needs the "manage abandoned checkouts" permission), and the ``orders/*`` and
  ``checkouts/*`` webhooks; ``write_orders``: cancel, refund, the order's address;
- ``read_customers``: customers by id, email, name or phone;
- ``read_products``: the catalogue (``productVariants``);
- ``read_merchant_managed_fulfillment_orders`` and ``write_merchant_managed_fulfillment_orders``
  (plus the ``third_party`` pair for shops fulfilled by an app): holds and their release;
- ``read_fulfillments``: the ``fulfillments/*`` webhooks (delivery);
- ``read_discounts`` and ``write_discounts``: discount codes (read by code before creating);
- protected customer data access (name, email, phone, address) for customer fields in reads
  and webhooks.

A missing scope answers ``ACCESS_DENIED``, raised as ``BackendAuthError`` naming the scope.
"""

from supportflow.store.adapters.shopify.adapter import SHOPIFY_CAPABILITIES, ShopifyAdapter
from supportflow.store.adapters.shopify.discounts import discount_code
from supportflow.store.adapters.shopify.fields import CUSTOMER_GID, ORDER_GID
from supportflow.store.adapters.shopify.mapping import map_customer, map_order, map_products
from supportflow.store.adapters.shopify.webhook_subscriptions import SALES_WEBHOOK_TOPICS
from supportflow.store.adapters.shopify.writes import HOLD_HANDLE_PREFIX, hold_handle

__all__ = [
    "CUSTOMER_GID",
    "HOLD_HANDLE_PREFIX",
    "ORDER_GID",
    "SALES_WEBHOOK_TOPICS",
    "SHOPIFY_CAPABILITIES",
    "ShopifyAdapter",
    "discount_code",
    "hold_handle",
    "map_customer",
    "map_order",
    "map_products",
]
