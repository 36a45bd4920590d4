"""Request bodies of the store's write API. Unknown fields are refused (422)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Id = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
ItemIds = Annotated[list[Id], Field(min_length=1, max_length=50)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AddressBody(_Body):
    address1: Text
    address2: Annotated[str, Field(max_length=200)] = ""
    city: Text
    state: Text
    country: Text
    zip: Annotated[str, Field(min_length=3, max_length=12)]

    def as_doc(self) -> dict[str, Any]:
        # Same key order as the seed's addresses, so documents stay byte-compatible.
        return {
            "address1": self.address1,
            "address2": self.address2,
            "city": self.city,
            "country": self.country,
            "state": self.state,
            "zip": self.zip,
        }


class CancelBody(_Body):
    reason: Literal["no longer needed", "ordered by mistake"]


class PaymentBody(_Body):
    payment_method_id: Id


class ItemsChangeBody(_Body):
    item_ids: ItemIds
    new_item_ids: ItemIds
    payment_method_id: Id


class ReturnBody(_Body):
    item_ids: ItemIds
    payment_method_id: Id


class HoldBody(_Body):
    reason: Annotated[str, Field(max_length=200)] | None = None


class ReleaseBody(_Body):
    # The Idempotency-Key of the hold this release undoes. If that hold has not arrived yet
    # (its request is still in flight), it is refused when it does: a late hold must never
    # apply after its saga has already compensated it.
    hold_idempotency_key: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class RefundBody(_Body):
    # None means everything still outstanding.
    amount: Annotated[float, Field(gt=0, le=1_000_000)] | None = None
    payment_method_id: Id | None = None


# -- sales (issue 14) -----------------------------------------------------------------------

# Discount codes: letters, digits, '-' and '_' (matched case-insensitively).
Code = Annotated[str, Field(min_length=3, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
DiscountKind = Literal["percentage", "fixed_amount", "free_shipping"]


class CheckoutLine(_Body):
    item_id: Id
    quantity: Annotated[int, Field(ge=1, le=100)] = 1


class CheckoutBody(_Body):
    user_id: Id
    items: Annotated[list[CheckoutLine], Field(min_length=1, max_length=50)]
    # Default to the user's; the phone is normalized to E.164 (an invalid one is a 422).
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = (
        None
    )
    phone: Annotated[str, Field(min_length=3, max_length=40)] | None = None
    accepts_email_marketing: bool = False
    accepts_sms_marketing: bool = False
    discount_code: Code | None = None


class CompleteBody(_Body):
    payment_method_id: Id
    # Replaces the checkout's own code, if it had one.
    discount_code: Code | None = None


class DiscountBody(_Body):
    code: Code | None = None
    kind: DiscountKind
    # percentage: 1-100; fixed_amount: > 0 (currency units); free_shipping: ignored.
    value: Annotated[float, Field(ge=0, le=1_000_000)] = 0
    # A time without a zone is read as UTC; it must lie in the future (checked when applied).
    expires_at: datetime
    usage_limit: Annotated[int, Field(ge=1, le=10_000)] = 1
    customer_id: Id | None = None
    # The order the code was offered about: it cannot be used once that order is cancelled.
    order_id: Id | None = None

    @model_validator(mode="after")
    def _value_fits_kind(self) -> DiscountBody:
        if self.kind == "percentage" and not 1 <= self.value <= 100:
            raise ValueError("a percentage discount's value must be between 1 and 100")
        if self.kind == "fixed_amount" and self.value <= 0:
            raise ValueError("a fixed_amount discount's value must be greater than 0")
        return self

    def expires_utc(self) -> datetime:
        if self.expires_at.tzinfo is None:
            return self.expires_at.replace(tzinfo=UTC)
        return self.expires_at.astimezone(UTC)
