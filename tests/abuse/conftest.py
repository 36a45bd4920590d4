"""A real API on loopback (uvicorn configured as `supportflow up` configures it), real
workers, the Temporal dev server and a SQLite app database; each test chooses its limits."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import Customer
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import free_port, running_workers, serve_api


@dataclass
class Api:
    url: str
    ws_url: str
    http: httpx.AsyncClient
    tenant: CreatedTenant
    other: CreatedTenant
    sessions: sessionmaker[Session]
    settings: Settings
    temporal: WorkflowEnvironment

    def chat(self, **body: object) -> dict[str, object]:
        return {
            "visitor_id": "v-" + uuid.uuid4().hex[:12],
            "message_id": uuid.uuid4().hex,
            "text": "hello",
            **body,
        }

    def stream(self, visitor_id: str, key: str | None = None) -> str:
        return (
            f"{self.ws_url}/v1/chat/stream?chat_key={key or self.tenant.chat_key}"
            f"&visitor_id={visitor_id}"
        )

    def customers(self, tenant_id: str) -> int:
        with self.sessions() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(Customer)
                    .where(Customer.tenant_id == tenant_id)
                )
                or 0
            )

    async def workflows(self) -> int:
        query = f"TaskQueue = '{self.settings.task_queue_agents}'"
        return len([w async for w in self.temporal.client.list_workflows(query)])


StartApi = Callable[..., contextlib.AbstractAsyncContextManager[Api]]


@pytest.fixture
def start_api(dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Any) -> StartApi:
    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Api]:
        url = f"sqlite:///{tmp_path / 'app.db'}"
        s = settings.model_copy(
            update={
                "database_url": url,
                "api_port": free_port(),
                "chat_reply_wait_seconds": 20.0,
                **overrides,
            }
        )
        upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        tenant = create_tenant(sessions, "Flooded Shop")
        other = create_tenant(sessions, "Other Shop")
        try:
            async with (
                running_workers(dev_env.client, s),
                serve_api(s, dev_env.client, http_timeout=60) as http,
            ):
                yield Api(
                    s.api_url,
                    s.api_url.replace("http://", "ws://"),
                    http,
                    tenant,
                    other,
                    sessions,
                    s,
                    dev_env,
                )
        finally:
            engine.dispose()

    return start
