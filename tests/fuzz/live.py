"""The whole API as users meet it, for the fuzz run and browser tests: the real ASGI app under
uvicorn on loopback, real workers on a real Temporal dev server, the real demo store, and a
SQLite app database with one tenant (its keys get past the 401s)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import free_port, running_workers, serve_api


@dataclass
class LiveApi:
    url: str
    http: httpx.AsyncClient
    tenant: CreatedTenant
    sessions: sessionmaker[Session]
    settings: Settings


@contextlib.asynccontextmanager
async def live_api(
    env: WorkflowEnvironment, settings: Settings, *, reply_wait_seconds: float = 20.0
) -> AsyncIterator[LiveApi]:
    settings = settings.model_copy(
        update={"api_port": free_port(), "chat_reply_wait_seconds": reply_wait_seconds}
    )
    url = settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    tenant = create_tenant(sessions, "Live Shop")
    try:
        async with (
            running_workers(env.client, settings),
            serve_api(settings, env.client, http_timeout=60) as http,
        ):
            yield LiveApi(settings.api_url, http, tenant, sessions, settings)
    finally:
        engine.dispose()
