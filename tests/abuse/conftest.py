"""A real API on loopback (uvicorn configured as `supportflow up` configures it), real
workers, the Temporal dev server and a SQLite app database; each test chooses its limits."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from supportflow.api.app import create_app
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import Customer
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from supportflow.worker import build_workers
from tests.helpers import free_port


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
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(s, temporal=dev_env.client),
                host="127.0.0.1",
                port=s.api_port,
                log_level="warning",
                ws="websockets-sansio",
                ws_max_size=s.max_request_bytes,
                # X-Forwarded-For only from these (uvicorn's default trusts loopback).
                forwarded_allow_ips=s.trusted_proxies,
            )
        )
        async with build_workers(dev_env.client, s) as workers:
            worker_tasks = [asyncio.create_task(w.run()) for w in workers]
            server_task = asyncio.create_task(server.serve())
            try:
                while not server.started:
                    await asyncio.sleep(0.02)
                async with httpx.AsyncClient(base_url=s.api_url, timeout=60) as http:
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
                # Also when the test failed: a server or worker left running would hang
                # the session.
                server.should_exit = True
                await server_task
                for w in workers:
                    await w.shutdown()
                await asyncio.gather(*worker_tasks)
        engine.dispose()

    return start
