"""The worker's counters, from activities a real worker runs on the dev server: handoffs
(each conversation's wait counted once however often its inbox line is rewritten), cases
closed, refunds, and store failures by kind (every attempt). The activities here stand in for
the product's under the same names and input types; the interceptor is the product's."""

from __future__ import annotations

import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from supportflow.activities.actions import ActionActivities
from supportflow.activities.contract import ActionDone, HoldOrderInput, RefundOrderInput
from supportflow.activities.outcomes import ClosedCase, TurnOutcomes
from supportflow.inbox.model import InboxItem
from supportflow.observability.temporal import ActivityMetrics
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.errors import StoreUnavailable
from supportflow.store.port import StoreThrottled
from tests.demo_store.conftest import ThreadedStore

SINCE = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@activity.defn(name="update_inbox")
def update_inbox(item: InboxItem) -> None:
    pass


@activity.defn(name="refund_order")
async def refund_order(inp: RefundOrderInput) -> None:
    pass


@activity.defn(name="record_turn_outcomes")
def record_turn_outcomes(inp: TurnOutcomes) -> int:
    return len(inp.closed)


@activity.defn(name="lookup_order")
async def lookup_order(kind: str) -> None:
    if kind == "not_found":
        raise ApplicationError("no such order", type="StoreNotFound", non_retryable=True)
    if kind == "throttled":
        raise StoreThrottled("slow down", status_code=429)
    raise StoreUnavailable("store down")


@workflow.defn(sandboxed=False)
class Counted:
    @workflow.run
    async def run(self, wf_id: str) -> None:
        once = timedelta(seconds=10)
        twice = RetryPolicy(maximum_attempts=2, initial_interval=timedelta(milliseconds=10))
        for version, reason, held_by in (
            (1, "handoff", None),
            (2, "handoff", "op-1"),  # the same wait, rewritten: counted once
            (3, "approval", None),
            (4, None, None),  # nobody needed any more: not a handoff
        ):
            item = InboxItem(
                tenant_id="t_obs",
                customer_id="c1",
                workflow_id=wf_id,
                version=version,
                reason=reason,  # type: ignore[arg-type]
                since=SINCE if reason else None,
                held_by=held_by,
            )
            await workflow.execute_activity(update_inbox, item, start_to_close_timeout=once)
        base = {"tenant_id": "t_obs", "store_user_id": "u1", "order_id": "#W1"}
        for key, amount in (("r1", 12.5), ("r2", None)):
            refund = RefundOrderInput(idempotency_key=key, amount=amount, **base)
            await workflow.execute_activity(refund_order, refund, start_to_close_timeout=once)
        outcomes = TurnOutcomes(
            tenant_id="t_obs",
            workflow_id=wf_id,
            at=SINCE,
            closed=[
                ClosedCase(case_id="k1", outcome="resolved", intent="track_order"),
                ClosedCase(case_id="k2", outcome="escalated", intent="complaint"),
            ],
        )
        await workflow.execute_activity(record_turn_outcomes, outcomes, start_to_close_timeout=once)
        for kind in ("not_found", "throttled", "unavailable"):
            with contextlib.suppress(ActivityError):
                await workflow.execute_activity(
                    lookup_order, kind, start_to_close_timeout=once, retry_policy=twice
                )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_worker_counts_what_activities_did(dev_env: WorkflowEnvironment) -> None:
    names = [
        ("supportflow_handoffs_total", {"reason": "handoff"}),
        ("supportflow_handoffs_total", {"reason": "approval"}),
        ("supportflow_refunds_total", {"scope": "partial"}),
        ("supportflow_refunds_total", {"scope": "full"}),
        ("supportflow_refund_amount_total", {}),
        ("supportflow_cases_closed_total", {"outcome": "resolved"}),
        ("supportflow_cases_closed_total", {"outcome": "escalated"}),
        ("supportflow_store_errors_total", {"kind": "not_found", "activity": "lookup_order"}),
        ("supportflow_store_errors_total", {"kind": "throttled", "activity": "lookup_order"}),
        ("supportflow_store_errors_total", {"kind": "unavailable", "activity": "lookup_order"}),
    ]
    before = [sample(n, **labels) for n, labels in names]
    queue = f"obs-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=4) as pool:
        async with Worker(
            dev_env.client,
            task_queue=queue,
            workflows=[Counted],
            activities=[update_inbox, refund_order, record_turn_outcomes, lookup_order],
            activity_executor=pool,
            interceptors=[ActivityMetrics()],
        ):
            wf_id = f"obs-{uuid.uuid4().hex[:8]}"
            await dev_env.client.execute_workflow(Counted.run, wf_id, id=wf_id, task_queue=queue)
    moved = [sample(n, **labels) - b for (n, labels), b in zip(names, before, strict=True)]
    assert moved == [1, 1, 1, 1, 12.5, 1, 1, 1, 2, 2]


# -- refunds' amounts from what the store applied: the product's activities, the real demo
# store (a private one: the refunds change its orders) ------------------------------------

REFUNDED_ORDER, REFUNDED_USER, PAID = "#W5918442", "sofia_rossi_8776", 1463.7


@workflow.defn(sandboxed=False)
class HoldAndRefund:
    @workflow.run
    async def run(self, wf_id: str) -> list[float | None]:
        once = timedelta(seconds=30)
        base = {"tenant_id": "t_obs", "store_user_id": REFUNDED_USER, "order_id": REFUNDED_ORDER}
        hold = HoldOrderInput(idempotency_key=f"{wf_id}.hold", reason="asked to", **base)
        await workflow.execute_activity("hold_order", hold, start_to_close_timeout=once)
        amounts: list[float | None] = []
        for step, amount in (("partial", 100.0), ("rest", None)):
            refund = RefundOrderInput(idempotency_key=f"{wf_id}.{step}", amount=amount, **base)
            done = await workflow.execute_activity(
                "refund_order", refund, start_to_close_timeout=once, result_type=ActionDone
            )
            amounts.append(done.amount)
        return amounts


async def test_a_full_refund_counts_the_amount_the_store_refunded(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = [
        ("supportflow_refunds_total", {"scope": "partial"}),
        ("supportflow_refunds_total", {"scope": "full"}),
        ("supportflow_refund_amount_total", {}),
    ]
    before = [sample(n, **labels) for n, labels in names]
    queue = f"obs-{uuid.uuid4().hex[:8]}"
    with ThreadedStore(tmp_path / "store.db") as store:
        async with StoreClient(store.url, timeout=10) as client:
            order = await client.get_order(REFUNDED_ORDER)
            assert order is not None and order["user_id"] == REFUNDED_USER
            assert [p["amount"] for p in order["payment_history"]] == [PAID]
            async with Worker(
                dev_env.client,
                task_queue=queue,
                workflows=[HoldAndRefund],
                activities=ActionActivities(client).all(),
                interceptors=[ActivityMetrics()],
            ):
                wf_id = f"obs-{uuid.uuid4().hex[:8]}"
                amounts = await dev_env.client.execute_workflow(
                    HoldAndRefund.run, wf_id, id=wf_id, task_queue=queue
                )
            after = await client.get_order(REFUNDED_ORDER)
    assert after is not None
    refunded = [p["amount"] for p in after["payment_history"] if p["transaction_type"] == "refund"]
    assert refunded == [100.0, pytest.approx(PAID - 100.0)]
    # The activity's result says what the store applied, the full refund's rest included.
    assert amounts == [100.0, pytest.approx(PAID - 100.0)]
    moved = [sample(n, **labels) - b for (n, labels), b in zip(names, before, strict=True)]
    assert moved == [1, 1, pytest.approx(PAID)]
