"""GET/PUT /v1/store-connection over real HTTP (uvicorn on a free port, a real SQLite file):
API-key auth, validation (422 with a clear message), and never a secret in an answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from supportflow.api.routers import store_connection
from supportflow.api.state import ApiState
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import free_port

SECRET = "shpat_0123456789abcdef_api_test"


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, CreatedTenant, CreatedTenant]]:
    monkeypatch.setenv("SHOPIFY_TOKEN_SHOP_A", SECRET)
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    a, b = create_tenant(sessions, "Shop A"), create_tenant(sessions, "Shop B")
    app = FastAPI()
    app.include_router(store_connection.router)
    app.state.supportflow = ApiState(
        settings=Settings(data_dir=tmp_path), sessions=sessions, temporal=cast(Client, object())
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", a, b
    finally:
        server.should_exit = True
        await task
        engine.dispose()


SHOPIFY = {
    "backend": "shopify",
    "shop": "shop-a.myshopify.com",
    "api_version": "2025-07",
    "token_env": "SHOPIFY_TOKEN_SHOP_A",
}


async def test_get_put_and_isolation(api: tuple[str, CreatedTenant, CreatedTenant]) -> None:
    base, a, b = api
    ha, hb = {"X-Api-Key": a.api_key}, {"X-Api-Key": b.api_key}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        assert (await http.get("/v1/store-connection")).status_code == 401
        assert (
            await http.get("/v1/store-connection", headers={"X-Api-Key": "nope"})
        ).status_code == 401
        assert (await http.put("/v1/store-connection", json=SHOPIFY)).status_code == 401
        default = (await http.get("/v1/store-connection", headers=ha)).json()
        assert default["backend"] == "demo" and default["secrets"] == {}
        r = await http.put("/v1/store-connection", json=SHOPIFY, headers=ha)
        assert r.status_code == 200, r.text
        assert r.json()["secrets"] == {"SHOPIFY_TOKEN_SHOP_A": True}
        got = await http.get("/v1/store-connection", headers=ha)
        assert got.json() == r.json() and SECRET not in got.text
        assert got.json()["shop"] == "shop-a.myshopify.com"
        # Another tenant sees only its own, and cannot borrow A's token variable.
        assert (await http.get("/v1/store-connection", headers=hb)).json()["backend"] == "demo"
        stolen = await http.put(
            "/v1/store-connection", json={**SHOPIFY, "shop": "shop-b.myshopify.com"}, headers=hb
        )
        assert stolen.status_code == 422 and "another tenant" in stolen.json()["detail"]
        # Unset variable: saved, and the answer says it is missing here.
        other = {**SHOPIFY, "shop": "shop-b.myshopify.com", "token_env": "SHOPIFY_TOKEN_SHOP_B"}
        r = await http.put("/v1/store-connection", json=other, headers=hb)
        assert r.status_code == 200 and r.json()["secrets"] == {"SHOPIFY_TOKEN_SHOP_B": False}
        # Back to the demo store.
        r = await http.put("/v1/store-connection", json={"backend": "demo"}, headers=ha)
        assert r.status_code == 200 and r.json()["backend"] == "demo"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"backend": "shopify", "shop": "shop-a.myshopify.com"}, "needs token_env"),
        ({**SHOPIFY, "shop": "https://attacker.example/"}, "permanent domain"),
        ({**SHOPIFY, "token_env": SECRET}, "NAME of an environment variable"),
        ({**SHOPIFY, "api_version": "latest"}, "api_version"),
        ({**SHOPIFY, "access_token": SECRET}, "access_token"),
        ({**SHOPIFY, "stripe": {"key_env": "STRIPE_KEY_A", "account_id": "bad"}}, "acct_"),
        (
            {**SHOPIFY, "stripe": {"key_env": "X1", "api_base": "https://evil.example"}},
            "api.stripe",
        ),
        ({"backend": "demo", "shop": "shop-a.myshopify.com"}, "demo backend takes no shop"),
        ({"backend": "woo"}, "backend"),
        # Endpoints of the operator's choosing are not for merchants.
        ({**SHOPIFY, "shop": "http://127.0.0.1:8401"}, "only be set by the operator"),
        ({"backend": "demo", "store_url": "http://10.0.0.5:8401"}, "only be set by the operator"),
    ],
)
async def test_invalid_connections_are_422_without_echoing_secrets(
    api: tuple[str, CreatedTenant, CreatedTenant], doc: dict[str, object], message: str
) -> None:
    base, a, _ = api
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        r = await http.put("/v1/store-connection", json=doc, headers={"X-Api-Key": a.api_key})
        assert r.status_code == 422, r.text
        assert message in r.json()["detail"]
        assert SECRET not in r.text
        # Nothing was saved.
        got = await http.get("/v1/store-connection", headers={"X-Api-Key": a.api_key})
        assert got.json()["backend"] == "demo"


async def test_a_body_that_is_not_an_object_is_422(
    api: tuple[str, CreatedTenant, CreatedTenant],
) -> None:
    base, a, _ = api
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        r = await http.put(
            "/v1/store-connection", json=["shopify"], headers={"X-Api-Key": a.api_key}
        )
        assert r.status_code == 422
