"""Who polls the agents task queue, as Temporal saw it: a count for the API's ``/health``
(cached, so the probe stays cheap) and one warning when no worker has polled it for a while
after the API started. A worker on another task queue or namespace leaves every conversation
unanswered, and nothing else would say so."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from supportflow.settings import Settings

log = logging.getLogger(__name__)

# How long one answer is reused: probes every few seconds ask Temporal once per this.
CACHE_S = 10.0
# How long one question may take; /health waits for it.
ASK_LIMIT_S = 2.0
# While Temporal cannot answer after the wait, the warning asks again this often.
RETRY_S = 5.0


class QueuePollers:
    """How many workers Temporal has seen polling one task queue's workflow tasks lately
    (its poller history, a few minutes); None when Temporal could not say."""

    def __init__(self, client: Client, namespace: str, task_queue: str) -> None:
        self.client = client
        self.namespace = namespace
        self.task_queue = task_queue
        self._lock = asyncio.Lock()
        self._answer: tuple[float, int | None] | None = None

    async def count(self, *, fresh: bool = False) -> int | None:
        async with self._lock:
            now = time.monotonic()
            if not fresh and self._answer is not None and now - self._answer[0] < CACHE_S:
                return self._answer[1]
            count = await self._ask()
            self._answer = (time.monotonic(), count)
            return count

    async def _ask(self) -> int | None:
        try:
            resp = await self.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.namespace,
                    task_queue=TaskQueue(name=self.task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                ),
                timeout=timedelta(seconds=ASK_LIMIT_S),
            )
        except RPCError as err:
            log.debug("pollers of %s not known: %s", self.task_queue, err.status)
            return None
        return len(resp.pollers)


async def warn_if_unpolled(pollers: QueuePollers, settings: Settings) -> None:
    """After ``temporal_unpolled_warning_seconds``, one WARNING if no worker has polled the
    queue since the API started; nothing otherwise. Runs once, for the API's lifetime."""
    after_s = settings.temporal_unpolled_warning_seconds
    await asyncio.sleep(after_s)
    while True:
        count = await pollers.count(fresh=True)
        if count is not None:
            break
        await asyncio.sleep(RETRY_S)
    if count == 0:
        log.warning(
            "no worker has polled task queue %r in namespace %r in the %.0fs since the API "
            "started: conversations wait unanswered. Check that the workers run with the "
            "same SUPPORTFLOW_TASK_QUEUE_AGENTS and SUPPORTFLOW_TEMPORAL_NAMESPACE as this API",
            pollers.task_queue,
            pollers.namespace,
            after_s,
        )
