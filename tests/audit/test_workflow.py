"""End to end: a customer cancels an order through CustomerWorkflow on the real Temporal dev
server, real workers and a real demo store; every store write of the saga is in the tenant's
audit trail once, with the conversation's workflow and run ids and the write's idempotency
key, and the chain verifies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from supportflow.audit.verify import verify
from supportflow.channels.inbound import deliver
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.models import AuditLogRow
from supportflow.settings import Settings
from supportflow.workflows.contract import (
    Channel,
    ChannelIdentity,
    InboundMessage,
    customer_workflow_id,
)
from tests.conftest import _run_store
from tests.helpers import running_workers, verified

# A pending order of the seed, on this module's own store.
EMAIL, ORDER = "sofia.rossi2645@example.com", "#W5918442"
TENANT = "t_audit_e2e"


@pytest.fixture(scope="module")
def own_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _run_store(tmp_path_factory.mktemp("audit-e2e-store") / "store.db")


async def test_a_cancel_saga_is_in_the_audit_trail(
    dev_env: WorkflowEnvironment, settings: Settings, own_store: str
) -> None:
    settings = settings.model_copy(update={"store_url": own_store})
    customer = "c_" + uuid.uuid4().hex[:16]

    async def say(text: str) -> str:
        m = InboundMessage(
            message_id=uuid.uuid4().hex,
            channel=Channel.CHAT,
            text=text,
            sender=ChannelIdentity(kind="chat", value="v-" + customer),
            verified=verified(EMAIL),
        )
        d = await deliver(dev_env.client, settings, TENANT, customer, m, wait_seconds=60)
        assert d.reply is not None
        return d.reply.text

    async with running_workers(dev_env.client, settings):
        await say(f"I want to cancel my order {ORDER}")
        await say("I no longer need it")
        assert "cancelled" in await say("yes, please cancel it")

    engine = make_engine(settings.resolved_database_url)
    try:
        sessions = make_session_factory(engine)
        with sessions() as s:
            rows = list(
                s.scalars(
                    select(AuditLogRow)
                    .where(AuditLogRow.tenant_id == TENANT)
                    .order_by(AuditLogRow.seq)
                )
            )
        result = verify(sessions, TENANT)
    finally:
        engine.dispose()
    actions = [r.action for r in rows]
    assert "store.cancel_order" in actions and len(actions) == len(set(actions)), actions
    assert all(a.startswith("store.") for a in actions)
    wf = customer_workflow_id(TENANT, customer)
    assert {(r.actor_kind, r.actor_id, r.workflow_id, r.target) for r in rows} == {
        ("agent", wf, wf, ORDER)
    }
    assert all(r.run_id and r.idempotency_key for r in rows)
    assert len({r.idempotency_key for r in rows}) == len(rows)
    assert EMAIL not in str([r.details for r in rows])
    assert result.ok and result.checked == {TENANT: len(rows)}
