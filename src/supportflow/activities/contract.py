"""One input and one result model per activity. Only these cross the activity boundary."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# Re-exported (see the note above ProductQuestionInput).
from supportflow.sales.products import Alternatives as Alternatives
from supportflow.sales.products import Comparison as Comparison
from supportflow.sales.products import ProductAnswer as ProductAnswer
from supportflow.sales.products import ProductAnswers as ProductAnswers
from supportflow.sales.products import VariantAnswer as VariantAnswer
from supportflow.understanding.contract import Context

# The failure types a store activity raises non-retryable: a broken store rule, an unknown
# record, an order that is not the customer's. The workflow's retry policy stops on them.
NOT_CUSTOMERS_ORDER = "NotCustomersOrder"
PERMANENT_STORE_ERRORS = ["StoreRejected", "StoreNotFound", NOT_CUSTOMERS_ORDER]


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


class OrderEmailInput(BaseModel):
    """An order number and the email the customer says is on it (policy
    ``status_by_order_email``): the check happens in the activity, next to the data."""

    tenant_id: str
    order_id: str
    email: str


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
    # The channel the answer goes out on ("email", "sms"): its own wording if it has one.
    channel: str | None = None


class ComposedReply(BaseModel):
    text: str


# -- support actions (activities/actions.py) ---------------------------------------------------
# Every write carries the key the workflow derived from workflow id + case + step, and the
# customer it acts for: the activity checks ownership next to the data before writing.


class LoadCaseFactsInput(BaseModel):
    tenant_id: str
    store_user_id: str
    order_id: str | None = None
    # The order's products (the variants a swap may choose): only requests that change an
    # order need them; an answer that only shows the order skips those reads.
    products: bool = True
    # The account's details (name, addresses, payment methods). Without them the facts know
    # only the account's id (verified by the workflow), enough to show the customer's order.
    account: bool = True


class ActionInput(BaseModel):
    tenant_id: str
    store_user_id: str
    idempotency_key: str = Field(min_length=1, max_length=255)


class OrderActionInput(ActionInput):
    order_id: str


class HoldOrderInput(OrderActionInput):
    reason: str | None = None


class ReleaseOrderInput(OrderActionInput):
    # The key of the hold being undone (set by `workflows.saga_steps.action_input` for a
    # hold's compensation).
    hold_idempotency_key: str | None = None


class RefundOrderInput(OrderActionInput):
    # None: everything still outstanding, to the original methods.
    amount: float | None = None
    payment_method_id: str | None = None


class CancelOrderInput(OrderActionInput):
    reason: str


class ModifyOrderAddressInput(OrderActionInput):
    address: dict[str, str]


class ModifyOrderPaymentInput(OrderActionInput):
    payment_method_id: str


class ModifyOrderItemsInput(OrderActionInput):
    item_ids: list[str]
    new_item_ids: list[str]
    payment_method_id: str


class ReturnOrderItemsInput(OrderActionInput):
    item_ids: list[str]
    payment_method_id: str


class ExchangeOrderItemsInput(OrderActionInput):
    item_ids: list[str]
    new_item_ids: list[str]
    payment_method_id: str


class ModifyUserAddressInput(ActionInput):
    address: dict[str, str]


class ActionDone(BaseModel):
    """A write applied (or replayed by its idempotency key): the record's status after it."""

    action: str
    entity_id: str
    status: str | None = None
    # refund_order: what the store reports this refund applied (its own figure, in the
    # order's currency); None for other writes, or a store that does not say.
    amount: float | None = None


# The answer models (VariantAnswer, ProductAnswer, ProductAnswers and the parts added for
# the sales agent) live in sales/products.py next to the pure code that builds them; they are
# imported above so every existing import from here keeps working.


class ProductQuestionInput(BaseModel):
    """A question about products (availability, options, price): the products the customer
    named, and the variants they named by their options (best understood first)."""

    tenant_id: str
    product_ids: list[str] = Field(max_length=3)
    item_ids: list[str] = Field(default_factory=list, max_length=25)
