"""What a tenant lets its sales agent do (issue 14): reminders for abandoned checkouts,
follow-ups after delivery, one retention offer before a cancel, and when none may be sent.

Off by default: a merchant turns sales messages on. Every message also needs the customer's
consent on its channel (``sales.consent``), checked at the moment of sending.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from supportflow.policy.hours import zone_name

Offer = Literal["none", "discount", "free_shipping"]
SalesChannel = Literal["email", "sms"]


class QuietHours(BaseModel):
    """No sales message between ``start`` and ``end`` in the tenant's time zone (the span may
    cross midnight: 21:00-08:00). A message due then waits for ``end``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    start: time = time(21, 0)
    end: time = time(8, 0)

    @field_validator("timezone")
    @classmethod
    def _zone_name(cls, value: str) -> str:
        return zone_name(value)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end must differ")
        return self


class AbandonedCheckout(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # After the checkout began; the reminder is one message, never a series.
    delay: timedelta = timedelta(hours=1)
    offer: Offer = "none"
    discount_percent: int = Field(default=10, ge=1, le=50)
    # How long an offered code stays valid.
    offer_valid: timedelta = timedelta(hours=72)


class PostPurchase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    # After delivery.
    delay: timedelta = timedelta(days=7)
    kind: Literal["review_request", "complementary"] = "review_request"


class Retention(BaseModel):
    """One offer before cancelling, for the reasons listed; "no" or insisting cancels at
    once, without a second offer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    reasons: frozenset[str] = frozenset({"no longer needed"})
    offer: Literal["discount", "free_shipping", "exchange"] = "discount"
    discount_percent: int = Field(default=10, ge=1, le=50)


class SalesPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    # Channels in the order tried; each needs the customer's consent.
    channels: tuple[SalesChannel, ...] = ("email", "sms")
    quiet_hours: QuietHours | None = QuietHours()
    abandoned_checkout: AbandonedCheckout = AbandonedCheckout()
    post_purchase: PostPurchase = PostPurchase()
    retention: Retention = Retention()
    # An order by the customer this long after a sales touch counts as its conversion.
    attribution_window: timedelta = timedelta(days=7)

    @model_validator(mode="after")
    def _bounds(self) -> SalesPolicy:
        checks = (
            ("abandoned_checkout.delay", self.abandoned_checkout.delay, 1, 7 * 24 * 60),
            ("abandoned_checkout.offer_valid", self.abandoned_checkout.offer_valid, 60, 30 * 1440),
            ("post_purchase.delay", self.post_purchase.delay, 1, 90 * 1440),
            ("attribution_window", self.attribution_window, 60, 90 * 1440),
        )
        for name, value, low, high in checks:
            if not timedelta(minutes=low) <= value <= timedelta(minutes=high):
                raise ValueError(f"sales.{name} must be between {low} and {high} minutes")
        if not self.channels or len(set(self.channels)) != len(self.channels):
            raise ValueError("sales.channels must list email and/or sms, each once")
        return self
