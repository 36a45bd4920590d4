"""The store write of a retention save (sales-v1 runs): the one-use discount code a customer
gets for keeping an order they meant to cancel.

An ordinary activity on the integrations queue, like the saga's writes (activities/actions.py):
the same idempotency key (workflow id + case, ``procedures.case.idempotency_key``) gives the
same code back, so a retried or replayed activity creates one code. Before writing it checks
that the backend can create codes and that the order is the customer's and still pending (a
code for an order cancelled meanwhile is refused). Store refusals are permanent
(``ApplicationError(non_retryable=True)``); ``StoreUnavailable`` propagates, so the retry
policy backs off and tries again with the same key. Codes are never logged.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from supportflow.activities.contract import NOT_CUSTOMERS_ORDER
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.errors import StoreNotFound, StoreRejected
from supportflow.store.port import Capability, DiscountSpec, StorePort, require
from supportflow.store.registry import PortSource, port_source

log = logging.getLogger(__name__)


class RetentionCodeInput(BaseModel):
    tenant_id: str
    store_user_id: str
    order_id: str
    offer: Literal["discount", "free_shipping"]
    percent: int | None = Field(default=None, ge=1, le=100)
    expires_at: datetime
    idempotency_key: str = Field(min_length=1, max_length=255)


class RetentionCode(BaseModel):
    code: str
    expires_at: datetime | None = None


def _permanent(exc: Exception, kind: str) -> ApplicationError:
    return ApplicationError(str(exc), type=kind, non_retryable=True)


class RetentionActivities:
    def __init__(self, store: StoreClient | PortSource) -> None:
        self._ports = port_source(store)

    @activity.defn(name="create_retention_code")
    async def create_retention_code(self, inp: RetentionCodeInput) -> RetentionCode:
        try:
            port = await self._ports.port_for(inp.tenant_id)
            require(port, Capability.CREATE_DISCOUNT_CODE)
            await self._check_order(port, inp)
            made = await port.create_discount_code(
                DiscountSpec(
                    kind="percentage" if inp.offer == "discount" else "free_shipping",
                    value=float(inp.percent or 0) if inp.offer == "discount" else 0.0,
                    expires_at=inp.expires_at,
                    usage_limit=1,
                    customer_id=inp.store_user_id,
                ),
                inp.idempotency_key,
            )
        except StoreNotFound as exc:
            raise _permanent(exc, "StoreNotFound") from exc
        except StoreRejected as exc:
            raise _permanent(exc, "StoreRejected") from exc
        expires = made.get("expires_at")
        log.info("retention code created (tenant %s)", inp.tenant_id)
        return RetentionCode(
            code=str(made["code"]),
            expires_at=datetime.fromisoformat(str(expires)) if expires else None,
        )

    async def _check_order(self, port: StorePort, inp: RetentionCodeInput) -> None:
        order = await port.get_order(inp.order_id)
        if order is None:
            raise StoreNotFound(f"order {inp.order_id} not found")
        if order.get("user_id") != inp.store_user_id:
            raise ApplicationError(
                f"order {inp.order_id} does not belong to this customer",
                type=NOT_CUSTOMERS_ORDER,
                non_retryable=True,
            )
        if order.get("status") != "pending":
            # Kept means kept: a code for an order that was cancelled (or sent) meanwhile
            # would reward nothing.
            raise StoreRejected(f"order {inp.order_id} is no longer pending")
