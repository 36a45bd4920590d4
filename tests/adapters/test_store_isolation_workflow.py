"""Store isolation end to end (issue 9, found problem 9): a tenant with no store connection
talks to its customers through the real workflow and workers, and none of the operator's
demo-store data reaches them; the customer hears that the store cannot be reached now."""

from __future__ import annotations

import asyncio

from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.tenants.service import create_tenant
from tests.helpers import running_workers
from tests.test_procedures_workflow import Chat

JAMES = "james.li4495@example.com"  # on the demo store: #W2611340, tracking 357962501027


async def test_a_tenant_without_a_store_connection_never_sees_the_demo_store(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    settings = settings.model_copy(update={"demo_store_tenants": ""})  # production default
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        tenant_id = create_tenant(make_session_factory(engine), "No Store Yet").tenant_id
    finally:
        engine.dispose()
    async with running_workers(workflow_env.client, settings):
        chat = Chat(workflow_env, settings, tenant_id)
        started = asyncio.get_running_loop().time()
        answer = await chat.say("where is my order #W2611340", email=JAMES)
        # Refused for good at once: no retry loop keeps the customer waiting.
        assert asyncio.get_running_loop().time() - started < 30
        assert "357962501027" not in answer and "processed" not in answer
        # Whichever step needed the store first (identity, order) says it cannot now.
        assert "can't" in answer and "right now" in answer, answer
        cancel = await chat.say("please cancel order #W2611340, I no longer need it")
        assert "357962501027" not in cancel and "$" not in cancel
