"""Workers for the agents, ai and integrations task queues.

One process can serve all queues (the embedded default) or any subset, so the AI worker,
the integration workers and the workflow workers scale apart in production.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from enum import StrEnum
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from supportflow.activities.actions import ActionActivities
from supportflow.activities.ai import AiActivities
from supportflow.activities.catalogue_cache import CatalogueCache
from supportflow.activities.channels import ChannelActivities
from supportflow.activities.custom_actions import CustomActionActivities
from supportflow.activities.identity import IdentityActivities
from supportflow.activities.knowledge import KnowledgeActivities
from supportflow.activities.management import (  # management agent (issue 14)
    ManagementActivities,
    ManagementMailActivities,
)
from supportflow.activities.outcomes import OutcomeActivities  # support's sales part (issue 14)
from supportflow.activities.people import NoticeActivities, PeopleActivities
from supportflow.activities.retention import RetentionActivities  # support's sales part
from supportflow.activities.retention_arms import RetentionArmActivities
from supportflow.activities.routing import RoutingActivities, RoutingMailActivities
from supportflow.activities.sales import SalesActivities
from supportflow.activities.sales_products import ProductAnswerActivities
from supportflow.activities.store import StoreActivities
from supportflow.activities.tenant import TenantActivities
from supportflow.crypto.keyring import load_keyring
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.identity.mailer import code_mailer
from supportflow.inbox.store import InboxStore
from supportflow.knowledge.base import KnowledgeBase
from supportflow.mail.sender import MailSender
from supportflow.observability import process as observability  # issue 15 item 5
from supportflow.policy.store import PolicyStore
from supportflow.replies.overrides import TemplateStore
from supportflow.replies.phrasing import load_phraser
from supportflow.settings import Settings
from supportflow.store.registry import StoreRegistry
from supportflow.understanding.engines import load_engine
from supportflow.webhooks.dispatcher import DeliveryPolicy, WebhookDispatcher
from supportflow.worker_options import worker_options
from supportflow.worker_stall import WorkerStalled, allow_pauses, wait_for_stall
from supportflow.workflows.customer import CustomerWorkflow
from supportflow.workflows.management import (  # management agent (issue 14)
    ManagementAgentWorkflow,
    ManagementDigestWorkflow,
)
from supportflow.workflows.sales import SalesAgentWorkflow

log = logging.getLogger(__name__)


class Queue(StrEnum):
    AGENTS = "agents"
    AI = "ai"
    INTEGRATIONS = "integrations"


ALL_QUEUES: tuple[Queue, ...] = (Queue.AGENTS, Queue.AI, Queue.INTEGRATIONS)


def workflows() -> list[type]:
    # The management agent (issue 14): one per tenant, and its daily digest.
    return [CustomerWorkflow, SalesAgentWorkflow, ManagementAgentWorkflow, ManagementDigestWorkflow]


@contextlib.asynccontextmanager
async def build_workers(
    client: Client, settings: Settings, queues: Sequence[Queue] = ALL_QUEUES
) -> AsyncIterator[list[Worker]]:
    """Yield workers for the chosen queues; their resources close when the context exits.

    Roles configured with the same task-queue name share one Worker: then Temporal hands an
    activity straight back to the worker that scheduled it (eager dispatch) instead of
    routing it through matching, which on the dev server costs ~40 ms a hop.
    """
    by_queue: dict[str, tuple[list[type], list[Callable[..., Any]]]] = {}

    def add(queue: str, workflows: list[type], activities: list[Callable[..., Any]]) -> None:
        wfs, acts = by_queue.setdefault(queue, ([], []))
        wfs.extend(workflows)
        # Roles sharing a queue may list the same activity once each: register it once.
        names = {_activity_name(a) for a in acts}
        acts.extend(a for a in activities if _activity_name(a) not in names)

    async with contextlib.AsyncExitStack() as stack:
        # Every role reads the app database now: the integrations queue keeps sign-in codes.
        sessions = None
        if queues:
            url = settings.resolved_database_url
            # Idempotent; lets a worker start before (or without) the API on a fresh database.
            await asyncio.to_thread(upgrade, url)
            db = make_engine(url)
            stack.callback(db.dispose)
            sessions = make_session_factory(db)
        # One mail sender for every activity in this process, so its record of the
        # Message-IDs it sent covers every retry, whichever activity sends.
        mail_out = MailSender(settings)
        reads: StoreActivities | None = None
        actions: ActionActivities | None = None
        identity: IdentityActivities | None = None
        store: StoreRegistry | None = None
        if queues:
            assert sessions is not None
            # Each tenant's own store backend (demo, Shopify), built on first use; every role
            # needs it (the ai queue reads each tenant's item catalogue through it).
            store = await stack.enter_async_context(StoreRegistry.from_settings(settings, sessions))
        if Queue.AGENTS in queues or Queue.INTEGRATIONS in queues:
            assert sessions is not None and store is not None
            # The app database too: each store write appends its audit entry (issue 12).
            reads, actions = StoreActivities(store), ActionActivities(store, sessions)
            keyring = await asyncio.to_thread(load_keyring, settings)
            identity = IdentityActivities(sessions, keyring, store, code_mailer(mail_out, settings))
        # --- outbound webhooks (issue 16; supportflow/webhooks): the integrations role sends
        # tenants' webhook events from the outbox; an inbox write in this process wakes it ---
        webhooks: WebhookDispatcher | None = None
        if Queue.INTEGRATIONS in queues and settings.outbound_webhooks_enabled:
            assert sessions is not None
            webhooks = WebhookDispatcher(sessions, keyring, DeliveryPolicy.from_settings(settings))
            await stack.enter_async_context(webhooks)
        # --- end outbound webhooks ---
        ai_reads: list[Callable[..., Any]] = []
        if Queue.AGENTS in queues or Queue.AI in queues:
            assert sessions is not None and store is not None
            engine = await asyncio.to_thread(load_engine, settings.model, settings)
            # Item matching uses each tenant's own catalogue, read through its store port.
            catalogues = await stack.enter_async_context(CatalogueCache(store))
            ai = AiActivities(
                engine, load_phraser(settings), TemplateStore(sessions), catalogues=catalogues
            )
            kb = KnowledgeBase(sessions)
            # Build every tenant's index in the background now, so no customer's turn meets a
            # cold one; queued builds are dropped when the workers stop.
            await asyncio.to_thread(kb.warm)
            stack.callback(kb.close)
            knowledge = KnowledgeActivities(kb)
            ai_reads = [ai.understand, ai.compose_reply, knowledge.answer_from_knowledge]
        if Queue.AGENTS in queues:
            assert sessions is not None and reads is not None and actions is not None
            assert identity is not None
            # The workflow runs understanding, reads and replies as local activities, in this
            # worker: no task-queue hop, and one billable action per workflow task for all of
            # them. Writes stay ordinary activities on the integrations queue.
            policies = PolicyStore(sessions)
            tenant = TenantActivities(policies)
            inbox = InboxStore(sessions, on_event=webhooks.notify if webhooks else None)
            people = PeopleActivities(inbox, policies)
            add(
                settings.task_queue_agents,
                workflows(),
                [
                    tenant.load_policy,
                    people.update_inbox,
                    *ai_reads,
                    reads.identify_customer,
                    reads.lookup_order,
                    reads.order_status_by_email,
                    reads.answer_product_question,
                    actions.load_case_facts,
                    identity.find_verified_account,
                ],
            )
        if Queue.AI in queues:
            # Conversations recorded before local activities still schedule these here.
            add(settings.task_queue_ai, [], ai_reads)
        if Queue.INTEGRATIONS in queues:
            assert reads is not None and actions is not None and identity is not None
            assert sessions is not None and store is not None
            notices = NoticeActivities(sessions, mail_out, settings)
            # Answers by email and SMS (issue 13), and the sales agent's reads and sends
            # (issue 14: store, consent, mail, Twilio), with the key ring loaded above.
            templates = TemplateStore(sessions)
            channels = ChannelActivities(sessions, keyring, settings, mail_out, templates)
            sales = SalesActivities(sessions, keyring, settings, store, mail_out, templates)
            add(
                settings.task_queue_integrations,
                [],
                [
                    sales.begin,
                    sales.send,
                    reads.identify_customer,
                    reads.lookup_order,
                    reads.order_status_by_email,
                    *actions.all(),
                    identity.find_verified_account,
                    identity.send_verification_code,
                    identity.check_verification_code,
                    identity.link_verified_identity,
                    notices.notify_supervisors,
                    channels.send_reply,
                ],
            )
        # --- management agent (issue 14): a poll's database calls run as local activities in
        # the agents worker (one workflow task per poll); the guard's mail to supervisors goes
        # out from the integrations queue, like the other notices ---------------------------
        if Queue.AGENTS in queues:
            assert sessions is not None
            management = ManagementActivities(sessions)
            add(
                settings.task_queue_agents,
                [],
                [
                    management.collect_management_batch,
                    management.write_metric_buckets,
                    management.trip_guard,
                    # Routing and the inbox watchdog: one more local activity per poll.
                    RoutingActivities(sessions).route_inbox,
                ],
            )
        if Queue.INTEGRATIONS in queues:
            assert sessions is not None
            mail = ManagementMailActivities(sessions, mail_out, settings)
            # Routing's mail, and the watchdog's visibility look (this worker's client).
            routing_mail = RoutingMailActivities(sessions, mail_out, settings)
            add(
                settings.task_queue_integrations,
                [],
                [
                    mail.notify_guard,
                    mail.send_management_digest,
                    routing_mail.notify_routing,
                    routing_mail.scan_stuck_workflows,
                ],
            )
        # --- end management agent ------------------------------------------------------------
        # --- the support agent's sales part (issue 14, sales-v1): a turn's outcomes recorded
        # by a local activity in the agents worker; a retention code is a store write on the
        # integrations queue, like the saga's ---------------------------------------------------
        if Queue.AGENTS in queues:
            assert sessions is not None
            assert store is not None
            add(
                settings.task_queue_agents,
                [],
                [
                    OutcomeActivities(sessions).record_turn_outcomes,
                    # custom-actions-v1: a custom action call's audit entry (issue 16).
                    CustomActionActivities(sessions).record_custom_action,
                    # sales-agent-v1: the arm of a retention experiment (one database write),
                    # and the sales agent's answer to a product question (a store read, local
                    # in its child workflow like the support agent's own reads).
                    RetentionArmActivities(sessions).assign_retention_arm,
                    ProductAnswerActivities(sessions, store).answer_products,
                ],
            )
        if Queue.INTEGRATIONS in queues:
            assert store is not None
            retention = RetentionActivities(store)
            add(settings.task_queue_integrations, [], [retention.create_retention_code])
        # --- end the support agent's sales part ----------------------------------------------
        # Sync activities (CPU-bound model inference) run here, off the event loop; one thread
        # per activity slot (threads start only when needed).
        slots = max(
            settings.worker_max_concurrent_activities,
            settings.worker_max_concurrent_local_activities,
        )
        pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(max_workers=slots))
        # --- observability (issue 15 item 5): tracing and the activity counters on every
        # worker; a worker process's own /metrics when Settings.worker_metrics_port is set ---
        interceptors = observability.ensure(settings).worker_interceptors(client)
        stack.enter_context(observability.worker_metrics_endpoint(settings))
        # --- end observability ---
        built = [
            Worker(
                client,
                task_queue=queue,
                workflows=wfs,
                activities=acts,
                activity_executor=pool if acts else None,
                interceptors=interceptors,
                **worker_options(settings),
            )
            for queue, (wfs, acts) in by_queue.items()
        ]
        # Issue 15 item 1: a GC or GIL pause is a slow workflow task, not a "deadlock".
        for w in built:
            allow_pauses(w, settings.worker_deadlock_timeout_seconds)
        yield built


def _activity_name(fn: Callable[..., Any]) -> str:
    # Every activity here is registered under its method's name.
    return str(getattr(fn, "__name__", repr(fn)))


async def run_workers(
    workers: Sequence[Worker], stop: asyncio.Event, *, stuck_after_s: float = 30.0
) -> None:
    """Run until `stop` is set, then shut down gracefully (in-flight tasks finish).

    Raises `WorkerStalled`, without shutting down (that would wait forever), when a worker
    can no longer give its workflow task slots back: its process must be replaced
    (supportflow/worker_stall.py).
    """
    tasks = [asyncio.create_task(w.run()) for w in workers]
    stop_task = asyncio.create_task(stop.wait())
    watch = asyncio.create_task(wait_for_stall(workers, stuck_after_s=stuck_after_s))
    done, _ = await asyncio.wait([*tasks, stop_task, watch], return_when=asyncio.FIRST_COMPLETED)
    if watch in done:
        stop_task.cancel()
        raise WorkerStalled(watch.result())
    watch.cancel()
    for w in workers:
        with contextlib.suppress(Exception):
            await w.shutdown()
    stop_task.cancel()
    for t in tasks:
        if t in done and t.exception():
            raise t.exception()  # type: ignore[misc]
    await asyncio.gather(*tasks, return_exceptions=True)
