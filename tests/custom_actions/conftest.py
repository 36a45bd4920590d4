"""A tenant with its own policy and articles, and a visitor of one of its conversations, on
the Temporal dev server (custom actions run on real task queues)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant
from tests.helpers import running_workers
from tests.identity.conftest import Visitor
from tests.identity.conftest import tenant as tenant


@pytest.fixture
async def dev_running(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[None]:
    async with running_workers(dev_env.client, settings):
        yield


@pytest.fixture
def conversation(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    tenant: CreatedTenant,
    smtp_server: MaildirServer,
) -> Visitor:
    return Visitor(dev_env, settings, tenant.tenant_id, "c_" + uuid.uuid4().hex[:16], smtp_server)
