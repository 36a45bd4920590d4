"""A tenant whose store is Shopify, end to end: the customer workflow on real Temporal servers
(dev and time-skipping) and the real worker, with the tenant's store connection in the app
database and the fake Shopify Admin API on loopback standing in for the shop. What Shopify's
state shows afterwards is what is checked."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.store.connection import tenant_env_prefix
from supportflow.store.connection_store import StoreConnectionStore
from supportflow.tenants.service import create_tenant
from supportflow.understanding.contract import Understanding
from supportflow.workflows.contract import customer_workflow_id
from tests.adapters.fake_shopify import SHOPIFY_TOKEN, ShopifyState
from tests.test_procedures_workflow import Chat

EMAIL = "ava.moore@example.com"
MUTATIONS = (
    "fulfillmentOrderHold",
    "fulfillmentOrderReleaseHold",
    "refundCreate",
    "orderCancel",
    "orderUpdate",
)


@dataclass(frozen=True)
class ShopifyTenant:
    tenant_id: str
    token_env: str  # the variable holding its Shopify token (in the tenant's namespace)


@pytest.fixture
def shopify_tenant(
    settings: Settings, shopify_url: str, monkeypatch: pytest.MonkeyPatch
) -> ShopifyTenant:
    """A tenant on Shopify in the workers' app database; its token only in the environment."""
    url = settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        tenant_id = create_tenant(sessions, "Shopify Shop").tenant_id
        # A connection may only name variables in its tenant's own namespace.
        token_env = tenant_env_prefix(tenant_id) + "SHOPIFY_TOKEN"
        monkeypatch.setenv(token_env, SHOPIFY_TOKEN)
        StoreConnectionStore(sessions).put(
            tenant_id, {"backend": "shopify", "shop": shopify_url, "token_env": token_env}
        )
        return ShopifyTenant(tenant_id, token_env)
    finally:
        engine.dispose()


def writes(state: ShopifyState) -> list[str]:
    return [name for name, _ in state.calls if name in MUTATIONS]


async def test_cancel_on_shopify_through_the_customer_workflow(
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    shopify_tenant: ShopifyTenant,
    shopify_state: ShopifyState,
    running: None,
) -> None:
    chat = Chat(workflow_env, settings, shopify_tenant.tenant_id)
    # Shopify's order numbers as customers write them: the number alone after "order".
    asked = await chat.say("I want to cancel my order 1001", email=EMAIL)
    assert "why" in asked.lower()
    summary = await chat.say("I no longer need it")
    assert "#1001" in summary and "$254.42" in summary
    assert writes(shopify_state) == [], "nothing before the yes"
    done = await chat.say("yes, please cancel it")
    assert "cancelled" in done and "5-7 business days" in done
    order = shopify_state.by_name("#1001")
    assert order["cancelledAt"] is not None
    # The saga on Shopify: hold, refund (the pivot), then a cancel that does not refund again.
    assert writes(shopify_state) == ["fulfillmentOrderHold", "refundCreate", "orderCancel"]
    (cancel,) = shopify_state.mutations("orderCancel")
    assert cancel["refund"] is False and cancel["restock"] is True
    refunds = [t for t in order["transactions"] if t["kind"] == "REFUND"]
    assert [t["amountSet"]["shopMoney"]["amount"] for t in refunds] == ["254.42"]
    assert ("cancel_order", "resolved") in await chat.cases()
    # Another tenant's orders live elsewhere: the demo store's tenant never sees this shop.
    other = Chat(workflow_env, settings)
    answer = await other.say("I want to cancel my order #1002", email=EMAIL)
    assert "email address" in answer and "$244.34" not in answer  # not known there
    assert writes(shopify_state) == ["fulfillmentOrderHold", "refundCreate", "orderCancel"]


async def test_an_action_shopify_lacks_goes_to_a_person_with_nothing_written(
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    shopify_tenant: ShopifyTenant,
    shopify_state: ShopifyState,
    running: None,
) -> None:
    chat = Chat(workflow_env, settings, shopify_tenant.tenant_id)
    answer = await chat.say("I want to return the boots from order #1002", email=EMAIL)
    assert "colleague" in answer and "haven't changed anything" in answer
    assert "confirm" not in answer.lower()
    await chat.say("yes")  # a yes afterwards confirms nothing
    assert writes(shopify_state) == []
    assert ("return_items", "escalated") in await chat.cases()


async def test_a_missing_token_is_refused_at_once_not_retried(
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    shopify_tenant: ShopifyTenant,
    shopify_state: ShopifyState,
    running: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker lacks the variable the connection names: the store call fails for good at
    once (a retry loop would leave the customer without a reply for minutes)."""
    monkeypatch.delenv(shopify_tenant.token_env)
    chat = Chat(workflow_env, settings, shopify_tenant.tenant_id)
    started = asyncio.get_running_loop().time()
    answer = await chat.say("I want to cancel my order #1001", email=EMAIL)
    assert asyncio.get_running_loop().time() - started < 30
    assert "can't reach our order system" in answer
    assert shopify_state.calls == []  # never even reached the shop


# -- item matching: the shop's own catalogue (issue 10) ----------------------------------------


async def understood_items(env: WorkflowEnvironment, chat: Chat) -> list[list[str]]:
    """The item ids each turn's understanding matched, read from the workflow's history (the
    understand activity's results, decoded with the client's codec)."""
    handle = env.client.get_workflow_handle(customer_workflow_id(chat.tenant_id, chat.customer))
    turns: list[list[str]] = []
    async for event in handle.fetch_history_events():
        marker = event.marker_recorded_event_attributes
        if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED or (
            marker.marker_name != "core_local_activity"
        ):
            continue
        (data,) = marker.details["data"].payloads
        if json.loads(data.data)["activity_type"] != "understand":
            continue
        (understanding,) = await env.client.data_converter.decode(
            marker.details["result"].payloads, [Understanding]
        )
        turns.append([i.item_id for i in understanding.entities.items])
    return turns


async def test_the_shops_own_catalogue_is_matched_in_its_conversations(
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    shopify_tenant: ShopifyTenant,
    shopify_state: ShopifyState,
    running: None,
) -> None:
    (propane,) = (
        v["id"]
        for v in shopify_state.catalogue.variants
        if v["product"]["title"] == "Camp Stove" and v["title"] == "propane"
    )
    chat = Chat(workflow_env, settings, shopify_tenant.tenant_id)
    await chat.say("I want to return the propane camp stove from order #1002", email=EMAIL)
    await chat.say("and my smart watch too")  # the demo store sells those; this shop does not
    assert await understood_items(workflow_env, chat) == [[propane], []]
    # Read once, through the tenant's own port, for both turns.
    assert len(shopify_state.mutations("productVariants")) == 1


async def test_the_number_alone_answers_which_order(
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    shopify_tenant: ShopifyTenant,
    shopify_state: ShopifyState,
    running: None,
) -> None:
    """Asked which order, a Shopify customer types the number alone: read in the shop's
    format ("1001" -> "#1001") because the agent is waiting for an order number."""
    chat = Chat(workflow_env, settings, shopify_tenant.tenant_id)
    asked = await chat.say("I want to cancel an order", email=EMAIL)
    assert "which order" in asked.lower()
    # The example is in the shop's own format, not the demo store's #W1234567.
    assert "like #1001" in asked and "#W" not in asked
    why = await chat.say("1001")
    assert "why" in why.lower()
    summary = await chat.say("I no longer need it")
    assert "#1001" in summary and "$254.42" in summary
    assert writes(shopify_state) == []  # nothing before the yes
