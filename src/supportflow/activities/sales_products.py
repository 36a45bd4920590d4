"""The sales agent's answer to a product question handed over by the support agent
(sales-agent-v1 runs; workflows/sales_agent.py).

It reads the products named from the tenant's store and answers from the catalogue: options,
prices, what is in stock, the variants named, alternatives in stock for those sold out, and
a comparison of the variants named (``answer_product``). When the customer is known and the
tenant measures sales, the answer is recorded as a sales touch (kind ``product_question``,
id the workflow's), so an order the customer places within the attribution window counts as
its conversion. Idempotent: the touch is written once; reading has no side effect.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from supportflow.activities.contract import ProductAnswers
from supportflow.policy.store import PolicyStore
from supportflow.sales import touches
from supportflow.sales.products import answer_product
from supportflow.store.errors import StoreRejected
from supportflow.store.port import Capability
from supportflow.store.registry import PortSource
from supportflow.workflows.sales_contract import AnswerProductsInput

log = logging.getLogger(__name__)


class ProductAnswerActivities:
    def __init__(self, sessions: sessionmaker[Session], stores: PortSource) -> None:
        self._sessions = sessions
        self._stores = stores
        self._policies = PolicyStore(sessions)

    @activity.defn(name="answer_products_for_sales")
    async def answer_products(self, inp: AnswerProductsInput) -> ProductAnswers:
        try:
            store = await self._stores.port_for(inp.tenant_id)
        except StoreRejected as exc:
            raise ApplicationError(str(exc), type="StoreRejected", non_retryable=True) from exc
        if Capability.GET_PRODUCT not in store.capabilities:
            return ProductAnswers()
        answers = []
        for product_id in inp.question.product_ids:
            try:
                product = await store.get_product(product_id)
            except StoreRejected as exc:
                raise ApplicationError(str(exc), type="StoreRejected", non_retryable=True) from exc
            if product is not None:
                answers.append(answer_product(product, inp.question.item_ids))
        if answers and inp.store_user_id:
            await asyncio.to_thread(self._touch, inp)
        return ProductAnswers(products=answers)

    def _touch(self, inp: AnswerProductsInput) -> None:
        if not self._policies.get(inp.tenant_id).sales.enabled:
            return  # the tenant does not measure sales
        try:
            touches.open_touch(
                self._sessions,
                touch_id=inp.workflow_id,
                tenant_id=inp.tenant_id,
                store_user_id=inp.store_user_id,
                kind="product_question",
                subject_id=",".join(inp.question.product_ids)[:100],
                workflow_id=inp.workflow_id,
                at=inp.asked_at,
                experiment_id=None,
                arm=None,
                status="answered",
            )
        except IntegrityError:
            log.warning("product question touch not recorded: unknown tenant %s", inp.tenant_id)
