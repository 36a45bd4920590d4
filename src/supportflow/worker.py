"""Workers for the agents, ai and integrations task queues.

One process can serve all queues (the embedded default) or any subset, so the AI worker,
the integration workers and the workflow workers scale apart in production.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from enum import StrEnum

from temporalio.client import Client
from temporalio.worker import Worker

from supportflow.activities.ai import AiActivities
from supportflow.activities.store import StoreActivities
from supportflow.settings import Settings
from supportflow.store.client import StoreClient
from supportflow.understanding.engines import load_engine
from supportflow.workflows.customer import CustomerWorkflow

log = logging.getLogger(__name__)


class Queue(StrEnum):
    AGENTS = "agents"
    AI = "ai"
    INTEGRATIONS = "integrations"


ALL_QUEUES: tuple[Queue, ...] = (Queue.AGENTS, Queue.AI, Queue.INTEGRATIONS)


def workflows() -> list[type]:
    return [CustomerWorkflow]


@contextlib.asynccontextmanager
async def build_workers(
    client: Client, settings: Settings, queues: Sequence[Queue] = ALL_QUEUES
) -> AsyncIterator[list[Worker]]:
    """Yield workers for the chosen queues; their resources close when the context exits."""
    workers: list[Worker] = []
    async with contextlib.AsyncExitStack() as stack:
        if Queue.AGENTS in queues:
            workers.append(
                Worker(client, task_queue=settings.task_queue_agents, workflows=workflows())
            )
        if Queue.AI in queues:
            engine = await asyncio.to_thread(load_engine, settings.model)
            ai = AiActivities(engine)
            pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(max_workers=8))
            workers.append(
                Worker(
                    client,
                    task_queue=settings.task_queue_ai,
                    activities=[ai.understand, ai.compose_reply],
                    activity_executor=pool,
                )
            )
        if Queue.INTEGRATIONS in queues:
            store = await stack.enter_async_context(StoreClient(settings.resolved_store_url))
            acts = StoreActivities(store)
            workers.append(
                Worker(
                    client,
                    task_queue=settings.task_queue_integrations,
                    activities=[acts.identify_customer, acts.lookup_order],
                )
            )
        yield workers


async def run_workers(workers: Sequence[Worker], stop: asyncio.Event) -> None:
    """Run until `stop` is set, then shut down gracefully (in-flight tasks finish)."""
    tasks = [asyncio.create_task(w.run()) for w in workers]
    stop_task = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, stop_task], return_when=asyncio.FIRST_COMPLETED)
    for w in workers:
        with contextlib.suppress(Exception):
            await w.shutdown()
    stop_task.cancel()
    for t in tasks:
        if t in done and t.exception():
            raise t.exception()  # type: ignore[misc]
    await asyncio.gather(*tasks, return_exceptions=True)
