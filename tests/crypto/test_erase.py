"""Erasing a customer on a real dev server: every run of a continued-as-new conversation,
and its app rows; nothing else."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.inbound import deliver
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import Customer, Identity
from supportflow.privacy.erase import UnknownCustomer, erase_customer
from supportflow.settings import Settings
from supportflow.tenants.service import create_tenant
from supportflow.workflows.contract import (
    Channel,
    ChannelIdentity,
    InboundMessage,
    customer_workflow_id,
)
from tests.helpers import running_workers


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[sessionmaker[Session]]:
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    yield make_session_factory(engine)
    engine.dispose()


def _customer(sessions: sessionmaker[Session], tenant_id: str, visitor: str) -> str:
    customer_id = "c_" + uuid.uuid4().hex[:16]
    with sessions.begin() as s:
        s.add(Customer(id=customer_id, tenant_id=tenant_id))
        s.flush()
        s.add(Identity(tenant_id=tenant_id, kind="chat", value=visitor, customer_id=customer_id))
    return customer_id


async def _talk(client: Client, settings: Settings, tenant: str, customer: str, n: int) -> None:
    visitor = "v-" + customer
    for i in range(n):
        msg = InboundMessage(
            message_id=f"m-{i}",
            channel=Channel.CHAT,
            text="thanks" if i else "hello",
            sender=ChannelIdentity(kind="chat", value=visitor),
        )
        d = await deliver(client, settings, tenant, customer, msg, wait_seconds=30)
        assert d.reply is not None


async def _runs(client: Client, workflow_id: str) -> int:
    return len([w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")])


async def test_erase_deletes_every_run_and_the_rows_of_that_customer_only(
    dev_env: WorkflowEnvironment, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    settings = settings.model_copy(update={"continue_as_new_events": 100})
    tenant = create_tenant(sessions, "Erase Shop").tenant_id
    victim = _customer(sessions, tenant, "v-victim")
    bystander = _customer(sessions, tenant, "v-bystander")
    client = dev_env.client
    async with running_workers(client, settings):
        await _talk(client, settings, tenant, victim, 16)  # past continue-as-new
        await _talk(client, settings, tenant, bystander, 1)
    victim_wf = customer_workflow_id(tenant, victim)
    for _ in range(50):  # visibility catches up with the closed runs
        if await _runs(client, victim_wf) >= 2:
            break
        await asyncio.sleep(0.1)
    assert await _runs(client, victim_wf) >= 2, "the conversation should have continued as new"

    erasure = await erase_customer(sessions, client, tenant, victim)

    assert erasure.app_rows == {"identities": 1, "verification_codes": 0, "customers": 1}
    assert erasure.runs_terminated == 1 and erasure.runs_deleted >= 2
    assert await _runs(client, victim_wf) == 0
    with pytest.raises(RPCError) as err:
        await client.get_workflow_handle(victim_wf).describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND
    with sessions() as s:
        assert s.scalars(select(Customer.id).where(Customer.tenant_id == tenant)).all() == [
            bystander
        ]
        assert s.scalars(select(Identity.value)).all() == ["v-bystander"]
    await client.get_workflow_handle(customer_workflow_id(tenant, bystander)).describe()

    with pytest.raises(UnknownCustomer, match="has no customer"):
        await erase_customer(sessions, client, tenant, victim)
    # Another tenant cannot erase (or learn of) this tenant's customer.
    other = create_tenant(sessions, "Other Shop").tenant_id
    with pytest.raises(UnknownCustomer):
        await erase_customer(sessions, client, other, bystander)
    await client.get_workflow_handle(customer_workflow_id(tenant, bystander)).describe()
