"""A Shopify shop whose refunds go through Stripe.

For shops whose card payments run through Stripe directly (Shopify records them as
transactions of gateway ``stripe``, with the payment intent as the ``authorizationCode``):
everything is ``ShopifyAdapter`` except ``refund_order``, which refunds those payment intents
on Stripe. Payments of other gateways are refunded by Shopify (``refundCreate``) as before.

Idempotency: each Stripe refund carries ``<our key>:<payment intent>`` as its
``Idempotency-Key``, so a retried step gets Stripe's first answer back instead of a second
refund (Stripe keeps keys for 24 hours; a retry later than that, on a fully refunded intent, is
refused by Stripe as already refunded rather than repeated). Shopify is not told about the
Stripe refund; the cancel that follows in the saga is ``orderCancel(refund: false)``.
"""

from __future__ import annotations

from typing import Any

from supportflow.store.adapters.shopify import ShopifyAdapter, map_order
from supportflow.store.adapters.stripe import StripeRefunds
from supportflow.store.errors import StoreRejected
from supportflow.store.port import REFUND_APPLIED, Doc

STRIPE_GATEWAY = "stripe"


class ShopifyWithStripeRefunds(ShopifyAdapter):
    def __init__(self, *args: Any, stripe: StripeRefunds, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stripe = stripe

    def __repr__(self) -> str:
        return f"ShopifyWithStripeRefunds({self.base_url!r}, {self._stripe!r})"

    async def aclose(self) -> None:
        try:
            await self._stripe.aclose()
        finally:
            await super().aclose()

    async def refund_order(
        self,
        order_id: str,
        idempotency_key: str,
        *,
        amount: float | None = None,
        payment_method_id: str | None = None,
    ) -> Doc:
        node = await self._require_order(order_id)
        order = map_order(node)
        intents = [
            (str(p["reference"]), round(float(p["amount"]) * 100))
            for p in order["payment_history"]
            if p["transaction_type"] == "payment"
            and p["payment_method_id"] == STRIPE_GATEWAY
            and str(p.get("reference") or "").startswith("pi_")
        ]
        if payment_method_id not in (None, STRIPE_GATEWAY) or not intents:
            return await super().refund_order(
                order_id, idempotency_key, amount=amount, payment_method_id=payment_method_id
            )
        remaining = None if amount is None else round(amount * 100)
        if remaining is not None and remaining <= 0:
            raise StoreRejected("a refund amount must be positive", status_code=422)
        if remaining is not None and remaining > sum(paid for _, paid in intents):
            raise StoreRejected(
                f"refund exceeds what was paid through Stripe for order {order['order_id']}"
            )
        applied = 0
        for intent, paid in intents:
            take = None if remaining is None else min(paid, remaining)
            if take == 0:
                break
            refund = await self._stripe.create_refund(
                intent,
                take,
                f"{idempotency_key}:{intent}",
                metadata={"shopify_order": str(order["order_id"])},
            )
            applied += int(refund.get("amount") or 0)  # Stripe's figure, in cents
            if remaining is not None and take is not None:
                remaining -= take
        return {**order, REFUND_APPLIED: applied / 100}
