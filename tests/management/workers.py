"""The management agent's worker alone (its workflow, its local activities and the guard's
mail on one task queue), for tests that need neither the AI nor the store; and waiting on
the workflow's ``metrics`` query."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator, Callable

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from supportflow.activities.management import (
    ManagementActivities,
    ManagementMailActivities,
)
from supportflow.activities.routing import RoutingActivities, RoutingMailActivities
from supportflow.mail.sender import MailSender
from supportflow.management.batch import MetricsView
from supportflow.settings import Settings
from supportflow.worker_options import sandbox_runner
from supportflow.workflows.management import ManagementAgentWorkflow


@contextlib.asynccontextmanager
async def management_worker(
    client: Client, settings: Settings, sessions: sessionmaker[Session]
) -> AsyncIterator[str]:
    """Runs until the block ends; yields its task queue (also the mail's)."""
    queue = settings.task_queue_agents
    m = ManagementActivities(sessions)
    mail = ManagementMailActivities(sessions, MailSender(settings), settings)
    # Routing and the watchdog (issue 14 item 4): their local activity, mail and scan.
    routing = RoutingActivities(sessions)
    routing_mail = RoutingMailActivities(sessions, MailSender(settings), settings)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        worker = Worker(
            client,
            task_queue=queue,
            workflows=[ManagementAgentWorkflow],
            activities=[
                m.collect_management_batch,
                m.write_metric_buckets,
                m.trip_guard,
                mail.notify_guard,
                routing.route_inbox,
                routing_mail.notify_routing,
                routing_mail.scan_stuck_workflows,
            ],
            activity_executor=pool,
            workflow_runner=sandbox_runner(settings),
        )
        async with worker:
            yield queue


async def until(
    handle: WorkflowHandle[ManagementAgentWorkflow, None],
    ok: Callable[[MetricsView], bool],
    *,
    seconds: float = 60,
) -> MetricsView:
    """The ``metrics`` query, asked until ``ok`` holds (a poll runs after its timer fires)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    view: MetricsView | None = None
    while True:
        try:
            view = await handle.query(ManagementAgentWorkflow.metrics)
        except RPCError as err:
            # Started in the background (the API's autostart): not there yet.
            if err.status != RPCStatusCode.NOT_FOUND or loop.time() > deadline:
                raise
        else:
            if ok(view):
                return view
        if loop.time() > deadline:
            shown = view.model_dump_json()[:2000] if view is not None else None
            raise AssertionError(f"never reached; last view: {shown}")
        await asyncio.sleep(0.05)
