"""Product questions handed to the sales agent (sales-agent-v1), on real Temporal servers (dev
and time-skipping), the demo store and the app database: the support conversation starts a
SalesAgentWorkflow of its own id and history, whose answer comes back into the same reply;
for a verified customer of a tenant that measures sales it records the touch a later order
is attributed to, and for a visitor or a tenant with sales off it records none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.models import SalesTouch
from supportflow.sales.touches import attribute_order
from supportflow.settings import Settings
from supportflow.workflows.contract import customer_workflow_id
from supportflow.workflows.sales import SalesAgentWorkflow
from tests.helpers import running_workers
from tests.test_procedures_workflow import Chat, tenant_with_policy
from tests.test_retention_workflow import rows

QUESTION = "is the water bottle available in 1000ml glass red?"
COMPARE = "whats the price difference between the 4 ft and 5 ft bookshelf"
# A seed customer who asks, and later orders.
CUSTOMER = ("mei_patel_7272", "mei.patel3193@example.com")


async def sales_children(env: WorkflowEnvironment, chat: Chat) -> list[str]:
    """The ids of the sales workflows the conversation started (its history's own record)."""
    history = await env.client.get_workflow_handle(
        customer_workflow_id(chat.tenant_id, chat.customer)
    ).fetch_history()
    return [
        e.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]


async def test_a_verified_customers_question_is_answered_by_the_sales_agent_and_converts(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    tenant_id = tenant_with_policy(settings, "Selling Shop", {"sales": {"enabled": True}})
    user, email = CUSTOMER
    async with running_workers(workflow_env.client, settings):
        chat = Chat(workflow_env, settings, tenant_id)
        reply = await chat.say(QUESTION, email=email)
        assert "1000ml, glass, red is out of stock" in reply, reply
        # The sales agent names what is in stock instead.
        assert "in stock: the same in" in reply, reply
        compared = await chat.say(COMPARE)
        assert "Bookshelf" in compared and " more than the " in compared, compared
        child, second = await sales_children(workflow_env, chat)
        assert child.startswith(f"sales:{tenant_id}:{user}:product_question:")
        outcome = await workflow_env.client.get_workflow_handle_for(
            SalesAgentWorkflow.run, child
        ).result()
        assert outcome.status == "answered" and outcome.answers is not None
        assert [p.name for p in outcome.answers.products] == ["Water Bottle"]
    assert sorted(
        (t.touch_id, t.kind, t.store_user_id, t.status)
        for t in rows(settings, SalesTouch, tenant_id)
    ) == sorted((c, "product_question", user, "answered") for c in (child, second))
    # An order the customer places within the window converts that touch (the store's
    # order webhook calls this).
    engine = make_engine(settings.resolved_database_url)
    try:
        converted = attribute_order(
            make_session_factory(engine),
            tenant_id=tenant_id,
            store_user_id=user,
            order_id="#W0000001",
            amount=Decimal("46.51"),
            placed_at=datetime.now(UTC) + timedelta(hours=1),
            window=timedelta(days=7),
        )
    finally:
        engine.dispose()
    # The latest touch before the order.
    assert converted == second


async def test_a_visitors_question_is_answered_with_no_touch(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    tenant_id = tenant_with_policy(settings, "Visited Shop", {"sales": {"enabled": True}})
    async with running_workers(workflow_env.client, settings):
        chat = Chat(workflow_env, settings, tenant_id)
        reply = await chat.say("how much is the water bottle")
        assert "Water Bottle" in reply and "$" in reply
        (child,) = await sales_children(workflow_env, chat)
        assert child.startswith(f"sales:{tenant_id}:visitor:product_question:")
    assert rows(settings, SalesTouch, tenant_id) == []


async def test_with_sales_off_the_question_is_answered_and_nothing_is_recorded(
    workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    tenant_id = tenant_with_policy(settings, "Quiet Shop", {})
    async with running_workers(workflow_env.client, settings):
        chat = Chat(workflow_env, settings, tenant_id)
        reply = await chat.say(QUESTION, email=CUSTOMER[1])
        assert "out of stock" in reply
        assert len(await sales_children(workflow_env, chat)) == 1
    assert rows(settings, SalesTouch, tenant_id) == []
