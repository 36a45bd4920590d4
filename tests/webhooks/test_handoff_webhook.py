"""End to end on the dev server (issue 16): a customer asks for a person in CustomerWorkflow,
the workflow writes its inbox line (PeopleActivities.update_inbox), and the integrations
worker's dispatcher delivers ``conversation.needs_person`` to the merchant's endpoint, signed
with the secret the merchant was shown: no workflow code knows about webhooks."""

from __future__ import annotations

import asyncio
import time

from temporalio.testing import WorkflowEnvironment

from supportflow.crypto.keyring import load_keyring
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.settings import Settings
from supportflow.webhooks import verify
from supportflow.webhooks.endpoints import set_endpoint
from supportflow.workflows.contract import customer_workflow_id
from tests.helpers import running_workers
from tests.test_procedures_workflow import Chat, tenant_with_policy
from tests.webhooks.receiver import Receiver

HUMAN = "lei.patel3765@example.com"


async def test_a_handover_in_a_conversation_reaches_the_merchants_endpoint(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    tenant_id = tenant_with_policy(settings, "Hooked Shop", {})
    receiver = Receiver()
    engine = make_engine(settings.resolved_database_url)
    try:
        sessions = make_session_factory(engine)
        made = set_endpoint(
            sessions, load_keyring(settings), tenant_id, receiver.url, allow_http=False
        )
    finally:
        engine.dispose()
    assert made.secret is not None
    chat = Chat(dev_env, settings, tenant_id)
    async with receiver.running(), running_workers(dev_env.client, settings):
        handed = await chat.say("I want to talk to a human please", email=HUMAN)
        assert "passing you to a member of our support team" in handed
        deadline = time.monotonic() + 30
        while not receiver.delivered and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    [hit] = receiver.delivered
    assert verify(made.secret, hit.body, hit.signature)
    event = hit.payload
    assert hit.event_id == event["id"]
    assert (event["type"], event["tenant_id"]) == ("conversation.needs_person", tenant_id)
    data = event["data"]
    assert (data["customer_id"], data["reason"], data["trigger"]) == (
        chat.customer,
        "handoff",
        "waiting",
    )
    assert data["workflow_id"] == customer_workflow_id(tenant_id, chat.customer)
    # Ids only: neither the customer's words nor their email address.
    assert b"human please" not in hit.body and HUMAN.encode() not in hit.body
