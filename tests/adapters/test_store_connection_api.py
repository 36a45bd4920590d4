"""GET/PUT /v1/store-connection over real HTTP (uvicorn on a free port, a real SQLite file):
API-key auth, validation (422 with a clear message), never a secret in an answer, variable
names only in the tenant's own namespace, and no store for a tenant without a connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from supportflow.api.routers import store_connection
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.store.connection import tenant_env_name
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import serve_router

SECRET = "shpat_0123456789abcdef_api_test"


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, CreatedTenant, CreatedTenant]]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    a, b = create_tenant(sessions, "Shop A"), create_tenant(sessions, "Shop B")
    monkeypatch.setenv(tenant_env_name(a.tenant_id, "SHOPIFY_TOKEN"), SECRET)
    settings = Settings(data_dir=tmp_path)
    try:
        async with serve_router(store_connection.router, settings, sessions) as base:
            yield base, a, b
    finally:
        engine.dispose()


def shopify(tenant: CreatedTenant, **changes: object) -> dict[str, object]:
    return {
        "backend": "shopify",
        "shop": "shop-a.myshopify.com",
        "api_version": "2025-07",
        "token_env": tenant_env_name(tenant.tenant_id, "SHOPIFY_TOKEN"),
        **changes,
    }


NO_CONNECTION = "has no store connection"


async def test_get_put_and_isolation(api: tuple[str, CreatedTenant, CreatedTenant]) -> None:
    base, a, b = api
    ha, hb = {"X-Api-Key": a.api_key}, {"X-Api-Key": b.api_key}
    token_a = tenant_env_name(a.tenant_id, "SHOPIFY_TOKEN")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        assert (await http.get("/v1/store-connection")).status_code == 401
        assert (
            await http.get("/v1/store-connection", headers={"X-Api-Key": "nope"})
        ).status_code == 401
        assert (await http.put("/v1/store-connection", json=shopify(a))).status_code == 401
        # No connection yet: no store (not the operator's demo store).
        none = await http.get("/v1/store-connection", headers=ha)
        assert none.status_code == 404 and NO_CONNECTION in none.json()["detail"]
        r = await http.put("/v1/store-connection", json=shopify(a), headers=ha)
        assert r.status_code == 200, r.text
        assert r.json()["secrets"] == {token_a: True}
        got = await http.get("/v1/store-connection", headers=ha)
        assert got.json() == r.json() and SECRET not in got.text
        assert got.json()["shop"] == "shop-a.myshopify.com"
        # Another tenant sees only its own, and cannot borrow A's token variable.
        assert (await http.get("/v1/store-connection", headers=hb)).status_code == 404
        stolen = await http.put(
            "/v1/store-connection", json=shopify(a, shop="shop-b.myshopify.com"), headers=hb
        )
        assert stolen.status_code == 422 and "own namespace" in stolen.json()["detail"]
        assert SECRET not in stolen.text
        # Unset variable: saved, and the answer says it is missing here.
        other = shopify(b, shop="shop-b.myshopify.com")
        r = await http.put("/v1/store-connection", json=other, headers=hb)
        token_b = tenant_env_name(b.tenant_id, "SHOPIFY_TOKEN")
        assert r.status_code == 200 and r.json()["secrets"] == {token_b: False}
        # The demo store is the operator's: a merchant cannot switch to it.
        r = await http.put("/v1/store-connection", json={"backend": "demo"}, headers=ha)
        assert r.status_code == 422 and "only be set by the operator" in r.json()["detail"]
        assert (await http.get("/v1/store-connection", headers=ha)).json()["backend"] == "shopify"


@pytest.mark.parametrize(
    "name",
    ["HOME", "PATH", "NO_SUCH_VARIABLE_ANYWHERE", "SHOPIFY_TOKEN", "SUPPORTFLOW_TENANT_T_OTHER_X"],
)
async def test_names_outside_the_namespace_are_422_and_reveal_nothing(
    api: tuple[str, CreatedTenant, CreatedTenant], name: str
) -> None:
    """The same answer for a variable that exists on the server (HOME, PATH) and one that
    does not: the API is no existence oracle."""
    base, a, _ = api
    prefix = tenant_env_name(a.tenant_id, "")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for doc in (
            shopify(a, token_env=name),
            shopify(a, stripe={"key_env": name}),
        ):
            r = await http.put("/v1/store-connection", json=doc, headers={"X-Api-Key": a.api_key})
            assert r.status_code == 422, r.text
            detail = r.json()["detail"]
            assert prefix in detail and "own namespace" in detail
            assert "not set" not in detail and " set" not in detail.replace(name, "")
        got = await http.get("/v1/store-connection", headers={"X-Api-Key": a.api_key})
        assert got.status_code == 404  # nothing was saved


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"token_env": None}, "needs token_env"),
        ({"shop": "https://attacker.example/"}, "permanent domain"),
        ({"token_env": SECRET}, "NAME of an environment variable"),
        ({"api_version": "latest"}, "api_version"),
        ({"access_token": SECRET}, "access_token"),
        ({"stripe": {"key_env": "<ns>STRIPE_KEY", "account_id": "bad"}}, "acct_"),
        (
            {"stripe": {"key_env": "<ns>STRIPE_KEY", "api_base": "https://evil.example"}},
            "api.stripe",
        ),
        ({"backend": "demo", "token_env": None, "shop": "x.myshopify.com"}, "demo backend takes"),
        ({"backend": "woo"}, "backend"),
        # The demo store and endpoints of the operator's choosing are not for merchants.
        ({"shop": "http://127.0.0.1:8401"}, "only be set by the operator"),
        (
            {"backend": "demo", "token_env": None, "shop": None, "store_url": "http://10.0.0.5"},
            "only be set by the operator",
        ),
        ({"backend": "demo", "token_env": None, "shop": None}, "only be set by the operator"),
    ],
)
async def test_invalid_connections_are_422_without_echoing_secrets(
    api: tuple[str, CreatedTenant, CreatedTenant], changes: dict[str, object], message: str
) -> None:
    base, a, _ = api
    doc = {k: v for k, v in shopify(a, **changes).items() if v is not None}
    stripe = doc.get("stripe")
    if isinstance(stripe, dict):
        doc["stripe"] = {**stripe, "key_env": tenant_env_name(a.tenant_id, "STRIPE_KEY")}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        r = await http.put("/v1/store-connection", json=doc, headers={"X-Api-Key": a.api_key})
        assert r.status_code == 422, r.text
        assert message in r.json()["detail"]
        assert SECRET not in r.text
        # Nothing was saved.
        got = await http.get("/v1/store-connection", headers={"X-Api-Key": a.api_key})
        assert got.status_code == 404


async def test_a_body_that_is_not_an_object_is_422(
    api: tuple[str, CreatedTenant, CreatedTenant],
) -> None:
    base, a, _ = api
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        r = await http.put(
            "/v1/store-connection", json=["shopify"], headers={"X-Api-Key": a.api_key}
        )
        assert r.status_code == 422
