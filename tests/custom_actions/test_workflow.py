"""CustomerWorkflow calls a merchant's custom action (issue 16) on the Temporal dev server.

The action here is served by a Python worker that behaves as the TypeScript SDK's
``createCustomActionWorker`` does (the same activity names, the same non-retryable failure
types): what is tested is the workflow's side of the contract. The TypeScript worker itself is
tested against this same workflow by the SDK's own tests (sdk/typescript/test).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from supportflow.audit.entry import AuditEntry
from supportflow.audit.log import entry_of
from supportflow.contract.custom_actions import CustomActionInput
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.models import AuditLogRow
from supportflow.knowledge.store import ArticleDraft, KnowledgeStore
from supportflow.policy.custom_actions import default_queue
from supportflow.policy.store import PolicyStore
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant
from supportflow.workflows.contract import customer_workflow_id
from tests.custom_actions.merchant import MerchantWorker
from tests.helpers import verified
from tests.identity.conftest import Visitor

JAMES = "james.li4495@example.com"
JAMES_STORE_ID = "james_li_5688"  # the demo store's id of the account with that email
QUESTION = "how many loyalty points do I have"
ARTICLE = ArticleDraft(
    title="Loyalty points balance",
    body="You have {points} loyalty points ({tier} tier).",
    tags=("loyalty", "points", "rewards", "balance"),
    action="loyalty_balance",
)
# An article with no action, so the tenant's own knowledge base answers other questions.
SHIPPING = ArticleDraft(
    title="Payment methods",
    body="We accept Visa, Mastercard and PayPal.",
    tags=("payment", "pay", "card", "paypal"),
)
CANT = "can't look that up from here"
APOLOGY = "passed your conversation to a member of our team"


def configure(
    settings: Settings, tenant: CreatedTenant, policy: dict[str, Any], *articles: ArticleDraft
) -> None:
    engine = make_engine(settings.resolved_database_url)
    try:
        sessions = make_session_factory(engine)
        PolicyStore(sessions).put(tenant.tenant_id, policy)
        kb = KnowledgeStore(sessions)
        for a in articles or (ARTICLE, SHIPPING):
            kb.create(tenant.tenant_id, a)
    finally:
        engine.dispose()


def audit(settings: Settings, tenant_id: str) -> list[AuditEntry]:
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as s:
            rows = s.scalars(
                select(AuditLogRow)
                .where(AuditLogRow.tenant_id == tenant_id)
                .order_by(AuditLogRow.seq)
            )
            return [e for e in map(entry_of, rows) if e.action.startswith("custom_action.")]
    finally:
        engine.dispose()


def _fails_once(c: CustomActionInput) -> Any:
    raise RuntimeError("loyalty system restarting")


async def test_a_verified_customer_hears_their_balance_from_the_merchants_action(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    tenant: CreatedTenant,
    conversation: Visitor,
    dev_running: None,
) -> None:
    configure(settings, tenant, {"custom_actions": {"loyalty_balance": {"deadline": "PT20S"}}})
    merchant = MerchantWorker(tenant.tenant_id)
    # The merchant's system fails the first attempt: retried, with the same key.
    merchant.answers = [_fails_once, merchant.answers[0]]
    conversation.token = verified(JAMES)
    async with merchant.serving(dev_env.client):
        reply = await conversation.say(QUESTION)
    assert "You have 4210 loyalty points (gold tier)." in reply
    assert len(merchant.calls) == 2
    first, second = merchant.calls
    assert first.idempotency_key == second.idempotency_key
    assert first.customer_id == JAMES_STORE_ID and first.tenant_id == tenant.tenant_id
    assert first.action == "loyalty_balance"
    [entry] = audit(settings, tenant.tenant_id)
    assert entry.action == "custom_action.loyalty_balance"
    assert entry.details["outcome"] == "done"
    assert entry.target == JAMES_STORE_ID
    assert entry.idempotency_key == first.idempotency_key
    assert entry.workflow_id == customer_workflow_id(tenant.tenant_id, conversation.customer_id)


async def test_an_unverified_customer_is_asked_to_verify_and_answered_after(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    tenant: CreatedTenant,
    conversation: Visitor,
    dev_running: None,
) -> None:
    configure(settings, tenant, {"custom_actions": {"loyalty_balance": {}}})
    merchant = MerchantWorker(tenant.tenant_id)
    async with merchant.serving(dev_env.client):
        asked = await conversation.say(QUESTION)
        assert "make sure it's you" in asked and not merchant.calls
        # Signed in (the widget now sends the identity token): the kept question is answered.
        conversation.token = verified(JAMES)
        answered = await conversation.say("ok I'm logged in now")
    assert "4210 loyalty points" in answered
    assert [c.customer_id for c in merchant.calls] == [JAMES_STORE_ID]


@pytest.mark.parametrize(
    ("policy", "articles", "reason"),
    [
        # The article names an action the policy does not list.
        ({}, (ARTICLE, SHIPPING), "not_in_policy"),
        # Listed, but for the sales agent only.
        (
            {"custom_actions": {"loyalty_balance": {"agents": ["sales"]}}},
            (ARTICLE, SHIPPING),
            "agent_not_allowed",
        ),
        # Listed, but the merchant's worker does not serve it.
        (
            {"custom_actions": {"warranty_check": {}}},
            (
                ArticleDraft(
                    title="Loyalty points balance",
                    body="Your points: {points}.",
                    tags=("loyalty", "points", "rewards", "balance"),
                    action="warranty_check",
                ),
                SHIPPING,
            ),
            "not_served",
        ),
    ],
    ids=["not-in-policy", "not-for-this-agent", "not-served"],
)
async def test_an_action_that_may_not_or_cannot_run_is_answered_without_and_recorded(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    tenant: CreatedTenant,
    conversation: Visitor,
    dev_running: None,
    policy: dict[str, Any],
    articles: tuple[ArticleDraft, ...],
    reason: str,
) -> None:
    configure(settings, tenant, policy, *articles)
    merchant = MerchantWorker(tenant.tenant_id)
    conversation.token = verified(JAMES)
    async with merchant.serving(dev_env.client):
        reply = await conversation.say(QUESTION)
        # The conversation goes on: the next question is answered as usual.
        shipping = await conversation.say("which payment methods do you accept?")
    assert CANT in reply and "{" not in reply
    assert "Visa, Mastercard and PayPal" in shipping
    assert not merchant.calls or reason == "not_served"
    [entry] = audit(settings, tenant.tenant_id)
    assert entry.details == {"outcome": "unavailable", "reason": reason} | (
        {"task_queue": default_queue(tenant.tenant_id)} if reason == "not_served" else {}
    )


@pytest.mark.parametrize(
    ("answer", "says", "details"),
    [
        # Breaks the contract: refused at the boundary, answered without it.
        ({"ok": "maybe", "points": 3}, CANT, {"outcome": "unavailable", "reason": "contract"}),
        # Lacks a value the article says.
        (
            {"ok": True, "data": {"points": 12}},
            CANT,
            {"outcome": "unavailable", "reason": "missing_field"},
        ),
        # The merchant's "no": said, and its code recorded.
        (
            {"ok": False, "error": {"code": "not_a_member", "message": "no loyalty account"}},
            "couldn't find that for your account",
            {"outcome": "failed", "error_code": "not_a_member"},
        ),
    ],
    ids=["contract", "missing-field", "not-ok"],
)
async def test_an_answer_the_agent_cannot_use_is_not_quoted(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    tenant: CreatedTenant,
    conversation: Visitor,
    dev_running: None,
    answer: dict[str, Any],
    says: str,
    details: dict[str, str],
) -> None:
    configure(settings, tenant, {"custom_actions": {"loyalty_balance": {}}})
    merchant = MerchantWorker(tenant.tenant_id)
    merchant.answers = [lambda _c: answer]
    conversation.token = verified(JAMES)
    async with merchant.serving(dev_env.client):
        reply = await conversation.say(QUESTION)
    assert says in reply and "{" not in reply
    assert len(merchant.calls) == 1  # refusals are not retried
    [entry] = audit(settings, tenant.tenant_id)
    assert entry.details == details | {"task_queue": default_queue(tenant.tenant_id)}


async def test_a_worker_that_is_down_ends_in_an_apology_and_a_handoff(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    tenant: CreatedTenant,
    conversation: Visitor,
    dev_running: None,
) -> None:
    configure(
        settings,
        tenant,
        {"custom_actions": {"loyalty_balance": {"timeout": "PT2S", "deadline": "PT3S"}}},
    )
    conversation.token = verified(JAMES)
    started = asyncio.get_running_loop().time()
    reply = await conversation.say(QUESTION)  # nobody serves the tenant's actions queue
    assert APOLOGY in reply
    assert asyncio.get_running_loop().time() - started < 15
    view = await conversation.view()
    assert view.cases[-1].status == "escalated"
    assert "custom_action.loyalty_balance" in (view.cases[-1].reason or "")
    [entry] = audit(settings, tenant.tenant_id)
    assert entry.details["outcome"] == "timed_out"


async def test_another_tenants_queue_is_refused_by_the_policy_and_by_the_worker(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    tenant: CreatedTenant,
    conversation: Visitor,
    dev_running: None,
) -> None:
    from supportflow.policy.load import PolicyError

    other = "t_" + uuid.uuid4().hex[:16]
    with pytest.raises(PolicyError, match="task queue must be the tenant's own"):
        configure(
            settings,
            tenant,
            {"custom_actions": {"loyalty_balance": {"task_queue": default_queue(other)}}},
        )
    # Nothing was stored: the tenant runs on the defaults (no custom actions).
    engine = make_engine(settings.resolved_database_url)
    try:
        assert not PolicyStore(make_session_factory(engine)).stored(tenant.tenant_id)
    finally:
        engine.dispose()
    # A worker that serves another tenant refuses the call (were a queue ever shared).
    configure(settings, tenant, {"custom_actions": {"loyalty_balance": {}}})
    impostor = MerchantWorker(other)
    impostor.tenant_id = other
    conversation.token = verified(JAMES)
    worker = Worker(
        dev_env.client,
        task_queue=default_queue(tenant.tenant_id),
        activities=[impostor.loyalty_balance, impostor.not_served],
    )
    async with worker:
        reply = await conversation.say(QUESTION)
    assert CANT in reply and len(impostor.calls) == 1
    [entry] = audit(settings, tenant.tenant_id)
    assert entry.details["reason"] == "tenant_refused"
