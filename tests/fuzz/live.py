"""The whole API as users meet it, for the fuzz run and browser tests: the real ASGI app under
uvicorn on loopback, real workers on a real Temporal dev server, the real demo store, and a
SQLite app database with one tenant (its keys get past the 401s)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from supportflow.api.app import create_app
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from supportflow.worker import build_workers
from tests.helpers import free_port


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
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, temporal=env.client),
            host="127.0.0.1",
            port=settings.api_port,
            log_level="warning",
            ws="websockets-sansio",
        )
    )
    try:
        async with build_workers(env.client, settings) as workers:
            worker_tasks = [asyncio.create_task(w.run()) for w in workers]
            server_task = asyncio.create_task(server.serve())
            try:
                while not server.started:
                    if server_task.done():
                        server_task.result()
                    await asyncio.sleep(0.02)
                async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as http:
                    yield LiveApi(settings.api_url, http, tenant, sessions, settings)
            finally:
                server.should_exit = True
                await server_task
                for w in workers:
                    await w.shutdown()
                await asyncio.gather(*worker_tasks)
    finally:
        engine.dispose()
