"""ManagementAgentWorkflow: one per tenant, for as long as the tenant exists. It watches the
whole tenant and keeps its figures; it never gets one signal per event.

Every ``poll_interval`` (the tenant's setting, 5 minutes by default) it runs one local
activity that reads everything new since its cursors (agent events, the audit trail, the
inbox) and returns counters per hour; it folds them into hourly buckets (8 days kept here,
all of them in ``metric_buckets``), writes the hours that changed, and runs the guard: a
refund spike or a burst of store errors tightens the tenant's policy on its own, which a
person lifts (docs/management.md). After ``polls_per_run`` polls (a day at 5 minutes), or
when Temporal suggests it, it continues as new carrying its buckets, cursors and guards, so
its history stays bounded. ``metrics`` answers the current rollup; ``poll_now`` wakes it.

Deterministic: time is ``workflow.now()``, ids ``workflow.uuid4()``, all I/O in activities.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.management import ManagementActivities, ManagementMailActivities
    from supportflow.management.batch import (
        BucketsWrite,
        CollectInput,
        DigestInput,
        DigestRequest,
        GuardNotice,
        GuardTrip,
        GuardView,
        ManagementBatch,
        ManagementInput,
        ManagementState,
        MetricsView,
        WindowFigures,
    )
    from supportflow.management.guard import GuardDecision, LastHourCounts, decide
    from supportflow.management.metrics import derived, fold, hour_of, hour_start, totals

# Database reads and writes of a poll: quick, retried quickly; a poll that still fails is
# skipped (the next one reads from the same cursors, so nothing is lost).
_LOCAL_TIMEOUT = timedelta(seconds=60)
_LOCAL_PATIENCE = timedelta(minutes=3)
_LOCAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=20),
)
# The supervisors' mail: a relay down for a while is waited for; a refusal is final.
_MAIL_TIMEOUT = timedelta(seconds=30)
_MAIL_PATIENCE = timedelta(minutes=30)
_MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=["MailRejected"],
)
T = TypeVar("T")
In = TypeVar("In")
_FAILED = (ActivityError, ApplicationError, TemporalTimeoutError)
# The rollup windows ``metrics`` answers, in hours ending with the current one.
WINDOWS = {"last_hour": 1, "last_24h": 24, "last_7d": 7 * 24}


@workflow.defn
class ManagementAgentWorkflow:
    @workflow.init
    def __init__(self, inp: ManagementInput) -> None:
        self._inp = inp
        self._s = inp.state.model_copy(deep=True) if inp.state is not None else ManagementState()
        self._wake = False
        self._more = False
        self._mail: list[asyncio.Task[Any]] = []

    @workflow.run
    async def run(self, inp: ManagementInput) -> None:
        polls = 0
        # A new agent looks at once; a continued one waits its interval first.
        due = inp.state is None
        while True:
            if not due and not self._more:
                await self._sleep()
            due = False
            await self._poll()
            polls += 1
            if polls >= inp.polls_per_run or workflow.info().is_continue_as_new_suggested():
                break
        # Mail still going out finishes in this run; a new run would not know about it.
        if self._mail:
            await asyncio.gather(*self._mail, return_exceptions=True)
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._s.runs += 1
        workflow.continue_as_new(inp.model_copy(update={"state": self._s}))

    @workflow.signal
    def poll_now(self) -> None:
        """Poll at once instead of at the end of the interval (a person refreshing figures)."""
        self._wake = True

    @workflow.query
    def metrics(self) -> MetricsView:
        s = self._s
        now = workflow.now()
        current = hour_of(now)
        windows: dict[str, WindowFigures] = {}
        for name, hours in WINDOWS.items():
            first = current - hours + 1
            t = totals(s.buckets, first, current)
            windows[name] = WindowFigures(
                first_hour=hour_start(first),
                last_hour=hour_start(current),
                counters=t,
                derived=derived(t),
            )
        return MetricsView(
            tenant_id=self._inp.tenant_id,
            as_of=now,
            polls=s.polls,
            runs=s.runs,
            trips=s.trips,
            events=s.events,
            last_poll_at=s.last_poll_at,
            poll_interval_seconds=s.config.poll_interval.total_seconds(),
            windows=windows,
            guards=s.guards,
            cursors=s.cursors,
        )

    # --- one poll -------------------------------------------------------------------------

    async def _sleep(self) -> None:
        self._wake = False
        with contextlib.suppress(TimeoutError):  # the interval ended: the usual case
            await workflow.wait_condition(
                lambda: self._wake, timeout=self._s.config.poll_interval, timeout_summary="poll"
            )
        self._wake = False

    async def _poll(self) -> None:
        s = self._s
        now = workflow.now()
        try:
            batch = await _local(
                ManagementActivities.collect_management_batch,
                CollectInput(tenant_id=self._inp.tenant_id, cursors=s.cursors, until=now),
            )
        except _FAILED as err:
            workflow.logger.warning("management poll skipped: %s", type(err).__name__)
            self._more = False
            return
        s.buckets, touched = fold(s.buckets, batch.buckets, hour_of(now))
        s.cursors = batch.cursors
        s.config = batch.config
        s.guards = batch.guards
        s.polls += 1
        s.events += batch.events
        s.last_poll_at = now
        self._more = batch.more
        await self._write(touched)
        await self._guard(batch)

    async def _write(self, touched: list[int]) -> None:
        s = self._s
        # Hours a failed write left behind go with the next one (absolute values: harmless).
        hours = sorted({*touched, *(h for h in s.unwritten if h in s.buckets)})
        if not hours:
            return
        try:
            await _local(
                ManagementActivities.write_metric_buckets,
                BucketsWrite(
                    tenant_id=self._inp.tenant_id, buckets={h: s.buckets[h] for h in hours}
                ),
            )
        except _FAILED as err:
            workflow.logger.warning("metric buckets not written: %s", type(err).__name__)
            s.unwritten = hours
            return
        s.unwritten = []

    async def _guard(self, batch: ManagementBatch) -> None:
        w = batch.last_hour
        window = LastHourCounts(
            end=w.end,
            refunds=w.refunds,
            refund_amount=w.refund_amount,
            store_errors=w.store_errors,
            error_actions=w.error_actions,
        )
        active = {g.kind for g in self._s.guards}
        for decision in decide(self._s.buckets, window, self._s.config, active):
            await self._trip(decision)

    async def _trip(self, d: GuardDecision) -> None:
        guard_id = "gd_" + workflow.uuid4().hex[:24]
        try:
            result = await _local(
                ManagementActivities.trip_guard,
                GuardTrip(
                    tenant_id=self._inp.tenant_id,
                    guard_id=guard_id,
                    kind=d.kind,
                    effect=d.effect,
                    actions=sorted(d.actions),
                    reason=d.reason,
                    workflow_id=workflow.info().workflow_id,
                    details=d.details(),
                ),
            )
        except _FAILED as err:
            workflow.logger.warning("guard not tripped: %s", type(err).__name__)
            return
        self._remember(result.guard)
        if not result.created:
            return  # one of this kind stood already: its supervisors were told then
        self._s.trips += 1
        workflow.logger.info("guard %s tripped: %s", guard_id, d.kind)
        self._mail = [t for t in self._mail if not t.done()]
        self._mail.append(
            asyncio.ensure_future(
                self._notify(
                    GuardNotice(
                        tenant_id=self._inp.tenant_id,
                        guard_id=guard_id,
                        kind=d.kind,
                        reason=d.reason,
                    )
                )
            )
        )

    def _remember(self, guard: GuardView) -> None:
        if all(g.guard_id != guard.guard_id for g in self._s.guards):
            self._s.guards.append(guard)

    async def _notify(self, notice: GuardNotice) -> None:
        try:
            await workflow.execute_activity_method(
                ManagementMailActivities.notify_guard,
                notice,
                task_queue=self._inp.integrations_queue,
                start_to_close_timeout=_MAIL_TIMEOUT,
                schedule_to_close_timeout=_MAIL_PATIENCE,
                retry_policy=_MAIL_RETRY,
            )
        except ActivityError as err:
            # The guard stands and shows in the console and the API; only the mail is lost.
            workflow.logger.warning("guard mail not sent: %s", type(err.cause).__name__)


async def _local(fn: Callable[[Any, In], T], arg: In) -> T:
    """A poll's database call, as a local activity of this worker."""
    return await workflow.execute_local_activity_method(
        fn,
        arg,
        start_to_close_timeout=_LOCAL_TIMEOUT,
        schedule_to_close_timeout=_LOCAL_PATIENCE,
        retry_policy=_LOCAL_RETRY,
    )


@workflow.defn
class ManagementDigestWorkflow:
    """The daily digest: started by the tenant's Schedule (``management-digest:{tenant}``,
    07:00 UTC), it mails the last 24 hours' figures to the tenant's admins and ends."""

    @workflow.run
    async def run(self, inp: DigestInput) -> int:
        sent = await workflow.execute_activity_method(
            ManagementMailActivities.send_management_digest,
            DigestRequest(tenant_id=inp.tenant_id, end=workflow.now()),
            task_queue=inp.integrations_queue,
            start_to_close_timeout=_MAIL_TIMEOUT,
            schedule_to_close_timeout=_MAIL_PATIENCE,
            retry_policy=_MAIL_RETRY,
        )
        return sent.recipients
