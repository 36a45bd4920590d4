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
From ``management-routing-v1`` on, each poll also routes waiting inbox lines to operators and
runs the watchdog (``_route``, ``_watch``; docs/management.md, Routing and the watchdog).

Deterministic: time is ``workflow.now()``, ids ``workflow.uuid4()``, all I/O in activities.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.management import (
        ManagementActivities,
        ManagementMailActivities,
    )
    from supportflow.activities.routing import RoutingActivities, RoutingMailActivities
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
    from supportflow.management.routing import RouteInput, RouteResult, RoutingNotice
    from supportflow.management.watchdog import ScanInput

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
# Routing and the watchdog run in polls from this patch on; runs recorded before replay
# without them (their histories have no marker).
ROUTING_PATCH = "management-routing-v1"
# The watchdog's look through visibility reads a page of runs: a few seconds at most. Tried
# three times; a missed look is made at the next period.
_SCAN_TIMEOUT = timedelta(minutes=2)
_SCAN_PATIENCE = timedelta(minutes=10)
_SCAN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=3,
    non_retryable_error_types=["VisibilityUnavailable"],
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
        previous_poll = s.last_poll_at
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
        if workflow.patched(ROUTING_PATCH):
            await self._route(now)
            self._watch(now, previous_poll)

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

    # --- routing and watchdog (issue 14 item 4) -------------------------------------------
    async def _route(self, now: datetime) -> None:
        """Assign waiting lines to operators, re-assign at SLA risk, escalate stuck lines:
        one local activity (this poll's workflow task); its mail goes out unawaited."""
        s = self._s
        try:
            result: RouteResult = await _local(
                RoutingActivities.route_inbox,
                RouteInput(
                    tenant_id=self._inp.tenant_id,
                    now=now,
                    poll_ref=f"{now.strftime('%Y%m%dT%H%M%S.%f')}#{s.polls}",
                    workflow_id=workflow.info().workflow_id,
                ),
            )
        except _FAILED as err:
            # The next poll reads the inbox afresh: nothing is lost, only later.
            workflow.logger.warning("routing skipped: %s", type(err).__name__)
            return
        if not result.assigned and not result.escalated:
            return
        notice = RoutingNotice(
            tenant_id=self._inp.tenant_id, assigned=result.assigned, escalated=result.escalated
        )
        self._background(self._mail_routing(notice))

    async def _mail_routing(self, notice: RoutingNotice) -> None:
        try:
            await workflow.execute_activity_method(
                RoutingMailActivities.notify_routing,
                notice,
                task_queue=self._inp.integrations_queue,
                start_to_close_timeout=_MAIL_TIMEOUT,
                schedule_to_close_timeout=_MAIL_PATIENCE,
                retry_policy=_MAIL_RETRY,
            )
        except ActivityError as err:
            # The assignment stands and shows in the inbox; only the mail is lost.
            workflow.logger.warning("routing mail not sent: %s", type(err.cause).__name__)

    def _watch(self, now: datetime, previous: datetime | None) -> None:
        """Once every ``watchdog_workflows_every`` (the first poll of each such period, UTC),
        look for sales workflows running past their expected life."""
        c = self._s.config
        if not c.watchdog_enabled:
            return
        every = c.watchdog_workflows_every.total_seconds()
        if previous is not None and now.timestamp() // every == previous.timestamp() // every:
            return
        self._background(
            self._scan(
                ScanInput(
                    tenant_id=self._inp.tenant_id, now=now, workflow_id=workflow.info().workflow_id
                )
            )
        )

    async def _scan(self, inp: ScanInput) -> None:
        try:
            found = await workflow.execute_activity_method(
                RoutingMailActivities.scan_stuck_workflows,
                inp,
                task_queue=self._inp.integrations_queue,
                start_to_close_timeout=_SCAN_TIMEOUT,
                schedule_to_close_timeout=_SCAN_PATIENCE,
                retry_policy=_SCAN_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("watchdog scan failed: %s", type(err.cause).__name__)
            return
        if found.stuck:
            workflow.logger.warning("watchdog: %d stuck sales workflows", found.stuck)

    def _background(self, work: Awaitable[None]) -> None:
        """Work the poll does not wait for; finished before the run continues as new."""
        self._mail = [t for t in self._mail if not t.done()]
        self._mail.append(asyncio.ensure_future(work))

    # --- end routing and watchdog -----------------------------------------------------------


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
    07:00 in the tenant's zone), it mails the last 24 hours' figures to the tenant's admins
    and ends."""

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
