"""A conversation whose workflow tasks keep failing (a bug shipped in a worker) still takes
every message durably: the API answers 202 with a holding reply, the message is in the
workflow's history, and GET of its reply answers 202 (pending), never 404 or 500."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.tenants.service import create_tenant
from supportflow.workflows.contract import (
    CustomerWorkflowInput,
    InboundMessage,
    Reply,
    ReplyLookup,
    ReplyStatus,
    customer_workflow_id,
)
from supportflow.workflows.customer import CustomerWorkflow
from tests.helpers import TEST_KEYRING, free_port, running_workers, serve_api


@workflow.defn(name="CustomerWorkflow", sandboxed=False)
class PoisonedCustomerWorkflow:
    """What a bad deploy looks like from the server: every workflow task fails."""

    @workflow.init
    def __init__(self, inp: CustomerWorkflowInput) -> None:
        self._inp = inp

    @workflow.run
    async def run(self, inp: CustomerWorkflowInput) -> None:
        raise RuntimeError("a bug in this build")

    @workflow.update(name="receive_message")
    async def receive_message(self, msg: InboundMessage) -> Reply:
        raise RuntimeError("a bug in this build")

    @workflow.signal(name="enqueue_message")
    async def enqueue_message(self, msg: InboundMessage) -> None:
        raise RuntimeError("a bug in this build")

    @workflow.query(name="reply_for")
    def reply_for(self, lookup: ReplyLookup) -> ReplyStatus:
        raise RuntimeError("a bug in this build")


async def test_a_failing_workflow_still_takes_the_message_and_answers_once_fixed(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    settings = settings.model_copy(update={"api_port": free_port(), "chat_reply_wait_seconds": 3.0})
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    tenant = create_tenant(make_session_factory(engine), "Bad Deploy", keyring=TEST_KEYRING)
    h = {"X-Chat-Key": tenant.chat_key}
    body = {"visitor_id": "v-" + uuid.uuid4().hex[:8], "message_id": uuid.uuid4().hex}
    reply_url = f"/v1/chat/messages/{body['message_id']}"
    try:
        async with serve_api(settings, dev_env.client, http_timeout=60) as http:
            poisoned = Worker(
                dev_env.client,
                task_queue=settings.task_queue_agents,
                workflows=[PoisonedCustomerWorkflow],
            )
            async with poisoned:
                r = await http.post("/v1/chat/messages", json={**body, "text": "hello"}, headers=h)
                assert r.status_code == 202, r.text
                assert r.json()["holding"] and r.json()["reply_url"]
                got = await http.get(
                    reply_url, params={"visitor_id": body["visitor_id"]}, headers=h
                )
                assert got.status_code == 202, got.text
                assert "traceback" not in got.text.lower()
            # The fix is deployed: the queued message is answered, once.
            async with running_workers(dev_env.client, settings):
                for _ in range(150):
                    got = await http.get(
                        reply_url, params={"visitor_id": body["visitor_id"]}, headers=h
                    )
                    if got.status_code == 200:
                        break
                    await asyncio.sleep(0.2)
                assert got.status_code == 200, got.text
                assert got.json()["reply"]
                handle = dev_env.client.get_workflow_handle_for(
                    CustomerWorkflow.run,
                    customer_workflow_id(tenant.tenant_id, r.json()["customer_id"]),
                )
                view = await handle.query(CustomerWorkflow.transcript)
                assert view.turns == 1
    finally:
        engine.dispose()
