"""Request bodies of the store's write API. Unknown fields are refused (422)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
