"""The real API (uvicorn on loopback, configured as `up` serves it) on a real, migrated app
database, with two tenants and a helper to sign operators in. No Temporal: these routes
never talk to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.operators.accounts import CreatedOperator, create_operator
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import TEST_ENCRYPTION_KEYS, free_port, serve_api


@dataclass
class OpsApi:
    http: httpx.AsyncClient  # cookies it is given stay in it
    settings: Settings
    sessions: sessionmaker[Session]
    shop: CreatedTenant
    other: CreatedTenant
    made: int = 0

    def operator(
        self, role: str, *, tenant: CreatedTenant | None = None, limit: str | None = None
    ) -> CreatedOperator:
        """A new operator (made as the CLI makes them) of ``tenant`` (the shop)."""
        self.made += 1
        return create_operator(
            self.sessions,
            (tenant or self.shop).tenant_id,
            f"{role}{self.made}@shop.example",
            role,
            Decimal(limit) if limit is not None else None,
            actor="test",
        )

    def client(self) -> httpx.AsyncClient:
        """Another browser: its own cookie jar."""
        return httpx.AsyncClient(base_url=self.settings.api_url, timeout=30)

    async def login(
        self, made: CreatedOperator, http: httpx.AsyncClient | None = None
    ) -> dict[str, Any]:
        r = await (http or self.http).post(
            "/v1/auth/login",
            json={
                "tenant_id": made.operator.tenant_id,
                "email": made.operator.email,
                "password": made.password,
            },
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


StartOps = Callable[..., contextlib.AbstractAsyncContextManager[OpsApi]]


@pytest.fixture
def start_ops(database_url: str, tmp_path: Path) -> StartOps:
    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[OpsApi]:
        settings = Settings(
            data_dir=tmp_path,
            database_url=database_url,
            api_port=free_port(),
            encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
            demo_store_tenants="*",
            **overrides,
        )
        upgrade(database_url)
        engine = make_engine(database_url)
        sessions = make_session_factory(engine)
        try:
            shop = create_tenant(sessions, "Operator Shop")
            other = create_tenant(sessions, "Other Shop")
            async with serve_api(settings, cast(Client, object())) as http:
                yield OpsApi(http, settings, sessions, shop, other)
        finally:
            engine.dispose()

    return start
