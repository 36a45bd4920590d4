"""What crosses SalesAgentWorkflow's boundary: its input, signals and result, and its
activities' inputs and results. Workflow ids are made here, so the webhook that starts an
opportunity and the one that ends it name the same workflow."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from supportflow.activities.contract import ProductAnswers

SalesKind = Literal["abandoned_checkout", "post_purchase", "product_question"]
Offer = Literal["none", "discount", "free_shipping"]

ORDER_PLACED_SIGNAL = "order_placed"


def sales_workflow_id(tenant_id: str, store_user_id: str, kind: SalesKind, subject_id: str) -> str:
    """One workflow per tenant + customer + opportunity (a checkout, a delivered order, or a
    product question handed over by the support agent)."""
    return f"sales:{tenant_id}:{store_user_id}:{kind}:{subject_id}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProductQuestion(_Frozen):
    """A product question handed over by the support agent: the products the customer
    named, and the variants they named by their options (best understood first)."""

    product_ids: list[str] = Field(min_length=1, max_length=3)
    item_ids: list[str] = Field(default_factory=list, max_length=25)


class SalesAgentInput(_Frozen):
    tenant_id: str
    # "" for a product question from someone not verified (nothing to attribute to).
    store_user_id: str
    kind: SalesKind
    # The checkout (abandoned_checkout), the delivered order (post_purchase), or the
    # question's own id (product_question).
    subject_id: str
    # When the opportunity began (the checkout's creation, the delivery): delays count from
    # here, not from when a webhook happened to arrive.
    began_at: datetime
    integrations_queue: str
    # product_question only.
    question: ProductQuestion | None = None


class OrderPlaced(_Frozen):
    order_id: str
    total: Decimal
    placed_at: datetime


class SalesOutcome(_Frozen):
    # "sent" | "control" | "suppressed" | "skipped" | "answered" (a product question)
    status: str
    detail: str | None = None
    arm: str | None = None
    # product_question: the answer, for the support agent's reply.
    answers: ProductAnswers | None = None


class AnswerProductsInput(_Frozen):
    tenant_id: str
    store_user_id: str
    workflow_id: str
    question: ProductQuestion
    asked_at: datetime


class BeginSalesInput(_Frozen):
    tenant_id: str
    store_user_id: str
    kind: SalesKind
    subject_id: str
    workflow_id: str
    began_at: datetime


class SalesPlan(_Frozen):
    """What this opportunity will do, fixed when it began: the arm stays the arm even if the
    experiment is edited later (assignments kept)."""

    go: bool
    reason: str | None = None
    touch_id: str | None = None
    # When the message is due (the delay after began_at, moved out of quiet hours).
    send_at: datetime | None = None
    experiment_id: str | None = None
    experiment_version: int | None = None
    arm: str | None = None
    # False: the experiment's hold-out arm (nothing is sent; the touch still counts).
    send: bool = True
    offer: Offer = "none"
    discount_percent: int | None = None
    offer_valid_seconds: int = 72 * 3600


class SendSalesInput(_Frozen):
    tenant_id: str
    store_user_id: str
    kind: SalesKind
    subject_id: str
    workflow_id: str
    plan: SalesPlan
    # The order the customer placed meanwhile (ends an abandoned-checkout reminder unsent;
    # it converts this opportunity's touch).
    ordered: OrderPlaced | None = None


class SendSalesResult(_Frozen):
    status: Literal["sent", "control", "suppressed", "deferred"]
    detail: str | None = None
    channel: Literal["email", "sms"] | None = None
    # deferred: quiet hours began meanwhile; try again then.
    retry_at: datetime | None = None
