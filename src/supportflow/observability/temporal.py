"""Counting in the worker: an activity interceptor that reads what activities did.

Workflows never count (a workflow replays, and must do no I/O); their activities run once
per attempt in the worker, so what a turn decided is counted where its activity ran: the
understanding of a message (``understand``), a conversation entering the inbox
(``update_inbox``), cases closed (``record_turn_outcomes``), refunds (``refund_order``), and
any store failure an activity saw. Only successful results are counted, so an activity retry
after a failure counts its effect once; store failures count per attempt (that is the load
on the store). Reading results here keeps the activities free of metrics code: one place
maps activity to metric, and a changed result type is caught by the tests.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from supportflow.activities.contract import NOT_CUSTOMERS_ORDER, ActionDone, RefundOrderInput
from supportflow.activities.outcomes import TurnOutcomes
from supportflow.inbox.model import InboxItem
from supportflow.observability import metrics
from supportflow.procedures.intents import INTENTS
from supportflow.store.actions import StoreAction
from supportflow.store.errors import StoreError, StoreNotFound, StoreRejected, StoreUnavailable
from supportflow.store.port import BackendAuthError, StoreThrottled
from supportflow.understanding.contract import Understanding

log = logging.getLogger(__name__)

# Activity failure types (ApplicationError.type) the store activities raise, by kind.
_APPLICATION_KINDS = {
    "StoreNotFound": "not_found",
    "StoreRejected": "rejected",
    NOT_CUSTOMERS_ORDER: "not_customers_order",
}
# Most specific first: a throttle is a kind of unavailable, a refused key a kind of rejected.
_STORE_KINDS: tuple[tuple[type[StoreError], str], ...] = (
    (StoreThrottled, "throttled"),
    (BackendAuthError, "auth"),
    (StoreUnavailable, "unavailable"),
    (StoreNotFound, "not_found"),
    (StoreRejected, "rejected"),
    (StoreError, "other"),
)
# Inbox lines already counted, by conversation and since when it waits (a line is written
# again at every change: an operator takes it, an SLA passes); bounded.
_SEEN_LIMIT = 50_000


def store_error_kind(exc: BaseException) -> str | None:
    """The kind of store failure ``exc`` is, or None when it is none."""
    if isinstance(exc, ApplicationError):
        kind = _APPLICATION_KINDS.get(exc.type or "")
        if kind is not None:
            return kind
        exc = exc.__cause__ or exc
    for cls, kind in _STORE_KINDS:
        if isinstance(exc, cls):
            return kind
    return None


class ActivityMetrics(Interceptor):
    """Worker interceptor: counts what activities did (module docstring)."""

    def __init__(self) -> None:
        self._seen_inbox: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountingActivityInbound(next, self)

    def count(self, activity_type: str, args: tuple[Any, ...], result: Any) -> None:
        if activity_type == "understand" and isinstance(result, Understanding):
            if result.needs_human:
                outcome = "needs_human"
            elif result.needs_clarification:
                outcome = "unclear"
            else:
                outcome = "confident"
            metrics.UNDERSTANDING.labels(outcome).inc()
            metrics.INTENTS.labels(result.intent if result.intent in INTENTS else "other").inc()
        elif activity_type == "update_inbox" and args and isinstance(args[0], InboxItem):
            item = args[0]
            if item.reason is not None:
                key = (item.workflow_id, item.reason, item.since.isoformat() if item.since else "")
                if key not in self._seen_inbox:
                    self._seen_inbox[key] = None
                    if len(self._seen_inbox) > _SEEN_LIMIT:
                        self._seen_inbox.popitem(last=False)
                    metrics.HANDOFFS.labels(item.reason).inc()
        elif activity_type == "record_turn_outcomes" and args and isinstance(args[0], TurnOutcomes):
            for case in args[0].closed:
                metrics.CASES_CLOSED.labels(case.outcome).inc()
        elif (
            activity_type == StoreAction.REFUND_ORDER.value
            and args
            and isinstance(args[0], RefundOrderInput)
        ):
            asked = args[0].amount
            metrics.REFUNDS.labels("full" if asked is None else "partial").inc()
            # What the store reports it refunded (ActionDone.amount); for a partial refund
            # from a store that does not say, the amount asked for (it refunds that or fails).
            applied = result.amount if isinstance(result, ActionDone) else None
            amount = applied if applied is not None else asked
            if amount is not None:
                metrics.REFUND_AMOUNT.inc(max(0.0, amount))


class _CountingActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, root: ActivityMetrics) -> None:
        super().__init__(next)
        self._root = root

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        activity_type = activity.info().activity_type
        try:
            result = await self.next.execute_activity(input)
        except BaseException as exc:
            kind = store_error_kind(exc)
            if kind is not None:
                metrics.STORE_ERRORS.labels(kind, activity_type).inc()
            raise
        try:
            self._root.count(activity_type, tuple(input.args), result)
        except Exception:
            # Counting must never fail an activity whose work is done.
            log.warning("metrics: could not count activity %s", activity_type, exc_info=True)
        return result
