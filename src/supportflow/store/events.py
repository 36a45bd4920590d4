"""What a store's webhook says happened, in one shape whatever the store (issue 14).

The demo store signs and shapes its webhooks as Shopify does (``X-Shopify-Topic``,
``X-Shopify-Webhook-Id``, ``X-Shopify-Hmac-Sha256``, REST webhook payloads), so one reader
serves both: ``store.webhooks.parse_store_event`` turns a topic and payload into a
``StoreEvent``. Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class StoreEventKind(StrEnum):
    CHECKOUT_CREATED = "checkout_created"  # checkouts/create, checkouts/update (not completed)
    CHECKOUT_ABANDONED = "checkout_abandoned"  # the demo store's checkouts/abandoned
    ORDER_CREATED = "order_created"  # orders/create
    ORDER_CANCELLED = "order_cancelled"  # orders/cancelled
    ORDER_DELIVERED = "order_delivered"  # fulfillments/create|update, shipment_status delivered


class StoreLineItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    item_id: str  # the variant
    product_id: str | None = None
    title: str = ""
    quantity: int = 1
    price: Decimal = Decimal(0)


class StoreEvent(BaseModel):
    """One event. ``customer_id`` is the store's user id (the store port's ``user_id``);
    ``None`` for a guest. Email and phone are the ones on the checkout or order."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    topic: str
    kind: StoreEventKind
    occurred_at: datetime
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    checkout_id: str | None = None
    order_id: str | None = None
    total: Decimal | None = None
    currency: str | None = None
    # Consent the buyer gave at checkout (None: the payload does not say).
    accepts_email_marketing: bool | None = None
    accepts_sms_marketing: bool | None = None
    line_items: list[StoreLineItem] = Field(default_factory=list)
    discount_codes: list[str] = Field(default_factory=list)
    abandoned_checkout_url: str | None = None
