"""Fixtures for verified identity: a real tenant in the app database (one-time codes belong
to it), and a chat that speaks to CustomerWorkflow as the API would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.inbound import deliver
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from supportflow.workflows.contract import (
    Channel,
    ChannelIdentity,
    InboundMessage,
    TranscriptView,
    VerifiedIdentity,
    customer_workflow_id,
)
from supportflow.workflows.customer import CustomerWorkflow
from tests.helpers import TEST_KEYRING, read_code
from tests.test_api_chat import api  # noqa: F401 - the running API, for test_api_identity


@pytest.fixture
def tenant(settings: Settings) -> CreatedTenant:
    url = settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        return create_tenant(make_session_factory(engine), "Trust Shop", keyring=TEST_KEYRING)
    finally:
        engine.dispose()


@dataclass
class Visitor:
    """One sender in one conversation (a browser tab): its own visitor id."""

    env: WorkflowEnvironment
    settings: Settings
    tenant_id: str
    customer_id: str
    smtp: MaildirServer
    visitor_id: str = field(default_factory=lambda: "v-" + uuid.uuid4().hex[:10])
    # Set to send every message as verified by a signed token for this identity.
    token: VerifiedIdentity | None = None

    async def say(self, text: str, *, email: str | None = None) -> str:
        m = InboundMessage(
            message_id=uuid.uuid4().hex,
            channel=Channel.CHAT,
            text=text,
            sender=ChannelIdentity(kind="chat", value=self.visitor_id),
            email=email,
            verified=self.token,
        )
        d = await deliver(
            self.env.client, self.settings, self.tenant_id, self.customer_id, m, wait_seconds=60
        )
        assert d.reply is not None
        return d.reply.text

    def code_for(self, email: str) -> str:
        return read_code(self.smtp.maildir_dir, email)

    async def view(self) -> TranscriptView:
        handle = self.env.client.get_workflow_handle_for(
            CustomerWorkflow.run, customer_workflow_id(self.tenant_id, self.customer_id)
        )
        return await handle.query(CustomerWorkflow.transcript)


@pytest.fixture
def conversation(
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    tenant: CreatedTenant,
    smtp_server: MaildirServer,
) -> Visitor:
    """The first visitor of a fresh conversation; `.joiner()`-style copies share it."""
    return Visitor(
        workflow_env, settings, tenant.tenant_id, "c_" + uuid.uuid4().hex[:16], smtp_server
    )
