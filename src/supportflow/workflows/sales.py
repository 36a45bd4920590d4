"""SalesAgentWorkflow: one sales opportunity of one customer (issue 14).

An abandoned checkout gets one reminder after the tenant's delay, outside its quiet hours,
on a channel the customer consented to; a delivered order, one follow-up N days later. The
workflow only waits and decides when; the activities (activities/sales.py) read the policy
and the experiment, check consent and the store at the moment of sending, create the
discount code and send. An order placed meanwhile (a signal from the store's webhook) ends it
at once, with nothing sent. Never a series: one message per opportunity, at most.

A product question handed over by the support agent (a child of its CustomerWorkflow,
workflows/sales_agent.py) is answered at once from the catalogue, and the answer returned
(activities/sales_products.py records the touch a later order is attributed to).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.sales import SalesActivities
    from supportflow.activities.sales_products import ProductAnswerActivities
    from supportflow.workflows.calls import STORE
    from supportflow.workflows.sales_contract import (
        ORDER_PLACED_SIGNAL,
        AnswerProductsInput,
        BeginSalesInput,
        OrderPlaced,
        SalesAgentInput,
        SalesOutcome,
        SalesPlan,
        SendSalesInput,
    )

# Store and mail outages are retried for this long, then the opportunity ends unsent: a
# reminder a day late is worse than none.
_SEND_RETRIES = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["UnknownTenant", "BadAddress", "MailRejected", "SmsRejected"],
)
_ACTIVITY_DEADLINE = timedelta(hours=2)
# Quiet hours that begin again while a send waits are waited out at most this often.
_MAX_DEFERRALS = 3


@workflow.defn
class SalesAgentWorkflow:
    @workflow.init
    def __init__(self, inp: SalesAgentInput) -> None:
        self._inp = inp
        self._ordered: OrderPlaced | None = None
        self._plan: SalesPlan | None = None
        self._outcome: SalesOutcome | None = None

    @workflow.signal(name=ORDER_PLACED_SIGNAL)
    def order_placed(self, order: OrderPlaced) -> None:
        if self._ordered is None:
            self._ordered = order

    @workflow.query
    def outcome(self) -> SalesOutcome | None:
        return self._outcome

    @workflow.run
    async def run(self, inp: SalesAgentInput) -> SalesOutcome:
        wf_id = workflow.info().workflow_id
        if inp.kind == "product_question":
            return await self._answer(inp)
        plan = await workflow.execute_activity_method(
            SalesActivities.begin,
            BeginSalesInput(
                tenant_id=inp.tenant_id,
                store_user_id=inp.store_user_id,
                kind=inp.kind,
                subject_id=inp.subject_id,
                workflow_id=wf_id,
                began_at=inp.began_at,
            ),
            task_queue=inp.integrations_queue,
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=_ACTIVITY_DEADLINE,
            retry_policy=_SEND_RETRIES,
        )
        self._plan = plan
        if not plan.go or plan.send_at is None:
            return self._done(SalesOutcome(status="skipped", detail=plan.reason))
        send_at = plan.send_at
        for _ in range(_MAX_DEFERRALS + 1):
            await self._until(send_at)
            result = await workflow.execute_activity_method(
                SalesActivities.send,
                SendSalesInput(
                    tenant_id=inp.tenant_id,
                    store_user_id=inp.store_user_id,
                    kind=inp.kind,
                    subject_id=inp.subject_id,
                    workflow_id=wf_id,
                    plan=plan,
                    ordered=self._ordered,
                ),
                task_queue=inp.integrations_queue,
                start_to_close_timeout=timedelta(seconds=60),
                schedule_to_close_timeout=_ACTIVITY_DEADLINE,
                retry_policy=_SEND_RETRIES,
            )
            if result.status != "deferred" or result.retry_at is None:
                return self._done(
                    SalesOutcome(status=result.status, detail=result.detail, arm=plan.arm)
                )
            send_at = result.retry_at
        return self._done(SalesOutcome(status="suppressed", detail="quiet_hours", arm=plan.arm))

    async def _answer(self, inp: SalesAgentInput) -> SalesOutcome:
        """A product question: a local activity in this worker (no task-queue hop; one
        billable action), with the store-read patience of the support agent's own reads."""
        assert inp.question is not None, "a product question carries its question"
        answers = await workflow.execute_local_activity_method(
            ProductAnswerActivities.answer_products,
            AnswerProductsInput(
                tenant_id=inp.tenant_id,
                store_user_id=inp.store_user_id,
                workflow_id=workflow.info().workflow_id,
                question=inp.question,
                asked_at=inp.began_at,
            ),
            start_to_close_timeout=STORE.start_to_close,
            schedule_to_close_timeout=STORE.schedule_to_close,
            retry_policy=STORE.retry,
        )
        return self._done(SalesOutcome(status="answered", answers=answers))

    async def _until(self, at: datetime) -> None:
        """Wait until ``at``, or less if an order is placed meanwhile (then the send activity
        records why nothing goes out)."""
        wait = at - workflow.now()
        if wait <= timedelta(0) or self._ordered is not None:
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._ordered is not None, timeout=wait)

    def _done(self, outcome: SalesOutcome) -> SalesOutcome:
        self._outcome = outcome
        return outcome
