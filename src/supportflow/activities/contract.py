"""One input and one result model per activity. Only these cross the activity boundary."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from supportflow.understanding.contract import Context


class UnderstandInput(BaseModel):
    tenant_id: str
    text: str
    context: Context = Field(default_factory=Context)


class IdentifyInput(BaseModel):
    tenant_id: str
    email: str


class IdentifyResult(BaseModel):
    store_user_id: str | None
    first_name: str | None = None


class LookupOrderInput(BaseModel):
    tenant_id: str
    order_id: str
    # Only this user's orders may be shown: the check happens inside the activity, next to
    # the data, so a workflow bug cannot leak another customer's order.
    store_user_id: str


class OrderItemFacts(BaseModel):
    name: str
    options: dict[str, str]
    price: float


class OrderFacts(BaseModel):
    order_id: str
    found: bool
    belongs_to_customer: bool = False
    status: str | None = None
    items: list[OrderItemFacts] = Field(default_factory=list)
    tracking_ids: list[str] = Field(default_factory=list)
    city: str | None = None


class ComposeInput(BaseModel):
    tenant_id: str
    template: str
    facts: dict[str, Any] = Field(default_factory=dict)


class ComposedReply(BaseModel):
    text: str
