"""The workflow side of every activity call: timeouts, retries, local or ordinary, and what a
failure that retries did not fix turns into.

One options object per kind of call, as sdk-python's ``contrib/openai_agents`` keeps its
activity parameters: the workflow code says *what* it calls (``calls.read(fn, arg)``), never
how long to wait or how to retry. Changing a value here changes it for every call of that
kind; which calls are local is decided once per run (``local``), so a run recorded before
local reads keeps its ordinary activities to the end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.contract import PERMANENT_STORE_ERRORS

T = TypeVar("T")
In = TypeVar("In")

# Activity failures that retries did not fix: an ordinary activity's arrives as ActivityError,
# a local activity's as the ApplicationError or timeout itself.
GAVE_UP = (ActivityError, ApplicationError, TemporalTimeoutError)


@dataclass(frozen=True)
class ActivityOptions:
    """How long one kind of call may take and how it is retried."""

    start_to_close: timedelta
    retry: RetryPolicy
    # The whole call across retries; None: retries alone bound it.
    schedule_to_close: timedelta | None = None


# Understanding, replies, policy and knowledge: fast and local; retried quickly.
AI = ActivityOptions(
    start_to_close=timedelta(seconds=15),
    retry=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        maximum_attempts=5,
        # A wrong LLM key or model name will not fix itself by retrying.
        non_retryable_error_types=["LlmRejected"],
    ),
)
# Store reads, identity calls and mail: the store may be down for minutes, so back off and give
# up after a while with a holding reply rather than leave the customer with silence.
STORE = ActivityOptions(
    start_to_close=timedelta(seconds=10),
    schedule_to_close=timedelta(minutes=5),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        non_retryable_error_types=["StoreRejected"],
    ),
)
# Store writes of a saga: as patient as reads; every permanent refusal stops at once.
STORE_WRITE = ActivityOptions(
    start_to_close=STORE.start_to_close,
    schedule_to_close=STORE.schedule_to_close,
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        non_retryable_error_types=PERMANENT_STORE_ERRORS,
    ),
)


# Sending an answer by email or SMS: a relay or Twilio down for minutes is retried with
# back-off; a refusal for good (bad address, unsubscribed number) stops at once. The turn
# waits for it (answers keep their order), so its patience is bounded like a store write's.
CHANNEL_SEND = ActivityOptions(
    start_to_close=timedelta(seconds=30),
    schedule_to_close=timedelta(minutes=5),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        non_retryable_error_types=[
            "BadAddress",
            "MailRejected",
            "SmsRejected",
            "UnknownTenant",
            "NoRoute",
        ],
    ),
)


@dataclass(frozen=True)
class ActivityCalls:
    """Calls from one workflow run. ``local``: reads run as local activities (all of a
    workflow task's local activities are one billable action, with no task-queue hop);
    otherwise as ordinary activities on ``ai_queue`` / ``integrations_queue``."""

    local: bool
    ai_queue: str
    integrations_queue: str

    async def ai(self, fn: Callable[[Any, In], T], arg: In, *, task_queue: str | None = None) -> T:
        """A fast, pure read (understanding, replies, policy, knowledge); failures raise."""
        if self.local:
            return await workflow.execute_local_activity_method(
                fn, arg, start_to_close_timeout=AI.start_to_close, retry_policy=AI.retry
            )
        return await workflow.execute_activity_method(
            fn,
            arg,
            task_queue=task_queue or self.ai_queue,
            start_to_close_timeout=AI.start_to_close,
            retry_policy=AI.retry,
        )

    async def store_read(self, fn: Callable[[Any, In], Awaitable[T]], arg: In) -> T | None:
        """A read from the tenant's store; None when it stayed unreachable past our patience."""
        if self.local:
            return await _or_none(
                workflow.execute_local_activity_method(
                    fn,
                    arg,
                    start_to_close_timeout=STORE.start_to_close,
                    schedule_to_close_timeout=STORE.schedule_to_close,
                    retry_policy=STORE.retry,
                )
            )
        return await self.integration(fn, arg)

    async def integration(self, fn: Callable[[Any, In], Awaitable[T]], arg: In) -> T | None:
        """An ordinary activity on the integrations queue (a write, or a send); None when it
        failed for good."""
        return await _or_none(
            workflow.execute_activity_method(
                fn,
                arg,
                task_queue=self.integrations_queue,
                start_to_close_timeout=STORE.start_to_close,
                schedule_to_close_timeout=STORE.schedule_to_close,
                retry_policy=STORE.retry,
            )
        )

    async def store_write(self, fn: Callable[[Any, In], Awaitable[T]], arg: In) -> T | None:
        """A store write outside a saga (a retention code, sales-v1): an ordinary activity on
        the integrations queue with the saga's write options; None when it failed for good."""
        return await _or_none(
            workflow.execute_activity_method(
                fn,
                arg,
                task_queue=self.integrations_queue,
                start_to_close_timeout=STORE_WRITE.start_to_close,
                schedule_to_close_timeout=STORE_WRITE.schedule_to_close,
                retry_policy=STORE_WRITE.retry,
            )
        )


async def _or_none(call: Awaitable[T]) -> T | None:
    """Await a store activity; None when the store refused for good or stayed unreachable past
    our patience. An ordinary activity's failure arrives as an ActivityError; a local
    activity's as the ApplicationError (or timeout) itself."""
    try:
        return await call
    except ActivityError as err:
        workflow.logger.warning("store activity failed for good: %s", err.cause)
        return None
    except (ApplicationError, TemporalTimeoutError) as err:
        workflow.logger.warning("store read failed for good: %s", type(err).__name__)
        return None
