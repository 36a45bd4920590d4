"""CustomerWorkflow on real Temporal servers (dev server and time-skipping test server) with
the real demo store over HTTP."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.inbound import deliver
from supportflow.settings import Settings
from supportflow.workflows.contract import (
    Channel,
    ChannelIdentity,
    CustomerWorkflowInput,
    InboundMessage,
    TaskQueues,
    customer_workflow_id,
)
from supportflow.workflows.customer import CustomerWorkflow
from tests.helpers import verified

JAMES = "james.li4495@example.com"  # owns #W2611340 (processed, tracking 357962501027)
NOAH = "noah.brown7922@example.com"  # does not


def msg(text: str, *, message_id: str | None = None, email: str | None = None) -> InboundMessage:
    """A chat message; with ``email``, from a sender verified as that email (signed token)."""
    return InboundMessage(
        message_id=message_id or uuid.uuid4().hex,
        channel=Channel.CHAT,
        text=text,
        sender=ChannelIdentity(kind="chat", value="visitor-1"),
        verified=verified(email) if email else None,
    )


async def test_order_status_comes_from_the_store(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    tenant, customer = "t_test", "c_" + uuid.uuid4().hex[:16]
    d = await deliver(
        workflow_env.client,
        settings,
        tenant,
        customer,
        msg("where is my order #W2611340", email=JAMES),
        wait_seconds=30,
    )
    assert d.status == "answered" and d.reply is not None
    assert "#W2611340" in d.reply.text
    assert "processed" in d.reply.text
    assert "357962501027" in d.reply.text


async def test_another_customers_order_is_not_shown(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    customer = "c_" + uuid.uuid4().hex[:16]
    d = await deliver(
        workflow_env.client,
        settings,
        "t_test",
        customer,
        msg("where is my order #W2611340", email=NOAH),
        wait_seconds=30,
    )
    assert d.reply is not None
    assert "357962501027" not in d.reply.text
    assert "couldn't find order #W2611340" in d.reply.text


async def test_order_id_then_sign_in_over_two_turns(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    customer = "c_" + uuid.uuid4().hex[:16]
    first = await deliver(
        workflow_env.client,
        settings,
        "t_test",
        customer,
        msg("where is my order #W2611340"),
        wait_seconds=30,
    )
    assert first.reply is not None and "email" in first.reply.text
    assert "357962501027" not in first.reply.text
    # The shopper signs in on the store's site: the widget now sends the identity token, and
    # the question that waited is answered.
    second = await deliver(
        workflow_env.client,
        settings,
        "t_test",
        customer,
        msg("ok I'm logged in now", email=JAMES),
        wait_seconds=30,
    )
    assert second.reply is not None and "357962501027" in second.reply.text


async def test_repeated_message_id_gets_the_same_reply_and_no_second_turn(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    customer = "c_" + uuid.uuid4().hex[:16]
    m = msg("hello there")
    first = await deliver(workflow_env.client, settings, "t_test", customer, m, wait_seconds=30)
    # The same message delivered twice at once, then once more later.
    again = await asyncio.gather(
        *(
            deliver(workflow_env.client, settings, "t_test", customer, m, wait_seconds=30)
            for _ in range(2)
        )
    )
    later = await deliver(workflow_env.client, settings, "t_test", customer, m, wait_seconds=30)
    assert first.reply is not None
    for d in [*again, later]:
        assert d.reply is not None
        assert d.reply.text == first.reply.text
        assert d.reply.duplicate
    handle = workflow_env.client.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id("t_test", customer)
    )
    view = await handle.query(CustomerWorkflow.transcript)
    assert view.turns == 1
    assert [e.role for e in view.entries] == ["customer", "agent"]


async def test_invalid_message_is_rejected_without_changing_history(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    customer = "c_" + uuid.uuid4().hex[:16]
    await deliver(workflow_env.client, settings, "t_test", customer, msg("hi"), wait_seconds=30)
    handle = workflow_env.client.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id("t_test", customer)
    )

    async def meaningful_events() -> list[int]:
        # The dev server drops a rejected update's workflow task entirely; the Java test
        # server keeps the task's events. Neither may record an accepted update or new work.
        kinds = {
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        }
        return [e.event_type async for e in handle.fetch_history_events() if e.event_type in kinds]

    before = await meaningful_events()
    assert before, "the first turn should have recorded events"
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(CustomerWorkflow.receive_message, msg("   "))
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(CustomerWorkflow.receive_message, msg("x" * 20_000))
    assert await meaningful_events() == before
    assert (await handle.query(CustomerWorkflow.transcript)).turns == 1


async def test_continue_as_new_carries_the_conversation(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    customer = "c_" + uuid.uuid4().hex[:16]
    wf_id = customer_workflow_id("t_test", customer)
    # A tiny threshold so a handful of turns crosses it; non-default task queues, which the
    # new run must keep.
    handle = await workflow_env.client.start_workflow(
        CustomerWorkflow.run,
        CustomerWorkflowInput(
            tenant_id="t_test",
            customer_id=customer,
            continue_as_new_events=40,
            task_queues=TaskQueues(
                ai=settings.task_queue_ai, integrations=settings.task_queue_integrations
            ),
        ),
        id=wf_id,
        task_queue=settings.task_queue_agents,
    )
    first = msg("hello", message_id="m-0")
    for i in range(8):
        m = first if i == 0 else msg(f"thanks {i}", message_id=f"m-{i}")
        h = workflow_env.client.get_workflow_handle_for(CustomerWorkflow.run, wf_id)
        await h.execute_update(CustomerWorkflow.receive_message, m)
    latest = workflow_env.client.get_workflow_handle_for(CustomerWorkflow.run, wf_id)
    view = await latest.query(CustomerWorkflow.transcript)
    assert view.runs > 1, "expected at least one continue-as-new"
    assert view.turns == 8
    assert len(view.entries) == 16
    # De-duplication survives continue-as-new.
    dup = await latest.execute_update(CustomerWorkflow.receive_message, first)
    assert dup.duplicate
    assert (await latest.query(CustomerWorkflow.transcript)).turns == 8
    assert (await latest.describe()).run_id != handle.first_execution_run_id


async def test_store_questions_are_answered_from_the_knowledge_base(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    customer = "c_" + uuid.uuid4().hex[:16]

    async def ask(text: str) -> str:
        d = await deliver(
            workflow_env.client, settings, "t_kb", customer, msg(text), wait_seconds=30
        )
        assert d.reply is not None
        return d.reply.text

    payment = await ask("which payment methods do you accept?")
    assert "PayPal" in payment or "gift card" in payment.lower()
    joke = await ask("tell me a joke about penguins")
    assert "I can only help with questions about your orders" in joke


async def test_a_product_question_is_answered_from_the_store_without_signing_in(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    customer = "c_" + uuid.uuid4().hex[:16]
    d = await deliver(
        workflow_env.client,
        settings,
        "t_test",
        customer,
        msg("is the water bottle available in 1000ml glass red?"),
        wait_seconds=30,
    )
    assert d.reply is not None and d.reply.intent == "product_question"
    # The variant asked for is sold out (the seed); the reply says so, and what is in stock.
    assert "1000ml, glass, red is out of stock" in d.reply.text
    assert "versions in stock" in d.reply.text and "capacity: 1000ml, 750ml, 500ml" in d.reply.text
