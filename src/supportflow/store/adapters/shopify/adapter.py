"""``ShopifyAdapter``: the reads and writes of this package as one ``StorePort``.

Capabilities: reads, the catalogue, tracking, hold/release, refund, cancel and the order's
address; for the sales agent, discount codes and checkout reads (``discounts``, ``checkouts``).
Payment and item changes, returns, exchanges, the customer's default address and a single
product's read are the demo store's own (``UnsupportedOperation``); procedures learn this from
``CaseFacts.capabilities`` and hand such requests to a person before promising anything.
Beyond the port, ``subscribe_webhooks`` points the shop's order, checkout and fulfillment
webhooks at our endpoint (``webhook_subscriptions``). The access scopes all this needs are
listed in the package's docstring.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from pydantic import SecretStr

from supportflow.store.adapters.shopify.checkouts import ShopifyCheckouts
from supportflow.store.adapters.shopify.discounts import ShopifyDiscounts
from supportflow.store.adapters.shopify.fields import Doc
from supportflow.store.adapters.shopify.webhook_subscriptions import ShopifyWebhookSubscriptions
from supportflow.store.adapters.shopify.writes import ShopifyWrites, WriteOptions
from supportflow.store.port import Capability, UnsupportedOperation

SHOPIFY_CAPABILITIES: frozenset[Capability] = frozenset(
    {
        Capability.GET_ORDER,
        Capability.GET_USER,
        Capability.FIND_USERS,
        Capability.LIST_PRODUCTS,
        Capability.CANCEL_ORDER,
        Capability.REFUND_ORDER,
        Capability.MODIFY_ORDER_ADDRESS,
        Capability.TRACKING,
        Capability.HOLD_ORDER,
        Capability.RELEASE_ORDER,
        Capability.CREATE_DISCOUNT_CODE,
        Capability.GET_CHECKOUT,
    }
)


class ShopifyAdapter(
    ShopifyDiscounts, ShopifyCheckouts, ShopifyWebhookSubscriptions, ShopifyWrites
):
    """A ``StorePort`` over one shop's Admin GraphQL API."""

    capabilities: frozenset[Capability] = SHOPIFY_CAPABILITIES

    def __init__(
        self,
        shop_domain_or_base_url: str,
        access_token: SecretStr,
        api_version: str = "2025-07",
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        timeout: float = 15.0,
        notify_customer: bool = False,
        restock: bool = True,
        refund_on_cancel: bool = True,
        job_poll_interval: float = 0.5,
        job_poll_max_interval: float = 5.0,
        job_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            shop_domain_or_base_url, access_token, api_version, transport, timeout=timeout
        )
        self._options = WriteOptions(
            notify_customer=notify_customer,
            restock=restock,
            refund_on_cancel=refund_on_cancel,
            job_poll_interval=job_poll_interval,
            job_poll_max_interval=job_poll_max_interval,
            job_timeout=job_timeout,
        )

    # -- what Shopify lacks here: refused up front (capabilities) and if called anyway ------

    async def get_product(self, product_id: str) -> Doc | None:
        raise self._unsupported(Capability.GET_PRODUCT)

    async def modify_order_payment(
        self, order_id: str, payment_method_id: str, idempotency_key: str
    ) -> Doc:
        raise self._unsupported(Capability.MODIFY_ORDER_PAYMENT)

    async def modify_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
        idempotency_key: str,
    ) -> Doc:
        raise self._unsupported(Capability.MODIFY_ORDER_ITEMS)

    async def return_order_items(
        self, order_id: str, item_ids: list[str], payment_method_id: str, idempotency_key: str
    ) -> Doc:
        raise self._unsupported(Capability.RETURN_ORDER_ITEMS)

    async def exchange_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
        idempotency_key: str,
    ) -> Doc:
        raise self._unsupported(Capability.EXCHANGE_ORDER_ITEMS)

    async def modify_user_address(
        self, user_id: str, address: Mapping[str, str], idempotency_key: str
    ) -> Doc:
        raise self._unsupported(Capability.MODIFY_USER_ADDRESS)

    def _unsupported(self, capability: Capability) -> UnsupportedOperation:
        return UnsupportedOperation(f"the Shopify backend does not support {capability.value}")
