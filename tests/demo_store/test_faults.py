"""Fault injection: latency, error and timeout rates, named operations, startup and admin."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from supportflow.demo_store.app import ADMIN_ENV, create_app
from supportflow.demo_store.faults import OPERATIONS, FaultSettings, OperationFault
from supportflow.demo_store.routes import checkouts as checkout_routes
from supportflow.demo_store.routes import discount_codes as discount_routes
from supportflow.demo_store.routes import orders as order_routes
from supportflow.demo_store.routes import products as product_routes
from supportflow.demo_store.routes import users as user_routes
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.errors import StoreUnavailable
from tests.demo_store.conftest import OrderPicker, ThreadedStore


async def set_faults(admin: httpx.AsyncClient, **settings: object) -> None:
    (await admin.post("/admin/faults", json=settings)).raise_for_status()


async def test_error_rate_one_fails_every_call_but_health_and_admin(
    client: StoreClient, admin: httpx.AsyncClient
) -> None:
    await set_faults(admin, error_rate=1.0)
    with pytest.raises(StoreUnavailable) as err:
        await client.get_order("#W2611340")
    assert err.value.status_code == 503
    assert await client.health()
    state = (await admin.get("/admin/faults")).json()
    assert state["injected"] == {"get_order:fail_before": 1}
    (await admin.delete("/admin/faults")).raise_for_status()
    assert await client.get_order("#W2611340") is not None


async def _pattern(client: StoreClient, n: int) -> list[bool]:
    outcome = []
    for _ in range(n):
        try:
            await client.get_product("9523456873")
            outcome.append(True)
        except StoreUnavailable:
            outcome.append(False)
    return outcome


async def test_seeded_error_rate_repeats_exactly(
    client: StoreClient, admin: httpx.AsyncClient
) -> None:
    await set_faults(admin, error_rate=0.5, seed=1234)
    first = await _pattern(client, 30)
    await set_faults(admin, error_rate=0.5, seed=1234)
    assert await _pattern(client, 30) == first
    assert 0 < first.count(False) < 30


async def test_latency_is_added(client: StoreClient, admin: httpx.AsyncClient) -> None:
    await set_faults(admin, latency_ms=300)
    started = time.monotonic()
    await client.get_order("#W2611340")
    assert time.monotonic() - started >= 0.3


async def test_named_operation_fails_n_times_then_works(
    client: StoreClient, admin: httpx.AsyncClient, orders: OrderPicker
) -> None:
    order = orders.with_status("pending")
    await set_faults(admin, operations={"cancel": {"times": 2, "status_code": 500}})
    k = uuid.uuid4().hex
    for _ in range(2):
        with pytest.raises(StoreUnavailable) as err:
            await client.cancel_order(order["order_id"], "no longer needed", k)
        assert err.value.status_code == 500
        assert (await client.get_order(order["order_id"]) or {})["status"] == "pending"
    assert (await client.get_user(order["user_id"])) is not None  # other operations unaffected
    result = await client.cancel_order(order["order_id"], "no longer needed", k)
    assert result["status"] == "cancelled"
    assert (await admin.get("/admin/faults")).json()["remaining"] == {"cancel": 0}


async def test_timeout_rate_stalls_until_the_caller_gives_up(
    store: ThreadedStore, admin: httpx.AsyncClient
) -> None:
    await set_faults(admin, timeout_rate=1.0, timeout_seconds=60)
    async with StoreClient(store.url, timeout=0.3) as impatient:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="timed out"):
            await impatient.get_order("#W2611340")
        assert time.monotonic() - started < 30
    assert (await admin.get("/admin/faults")).json()["injected"] == {"get_order:timeout_before": 1}


def test_faults_from_startup_and_no_admin_by_default(
    start_store: Callable[..., ThreadedStore],
) -> None:
    running = start_store(
        faults=FaultSettings(operations={"get_order": OperationFault()}), admin=False
    )
    with httpx.Client(base_url=running.url) as http:
        assert http.get("/orders/%23W2611340").status_code == 503
        assert http.get("/users/noah_brown_6181").status_code == 200
        assert http.get("/admin/faults").status_code == 404


def test_admin_env_var_mounts_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def has_admin() -> bool:
        app = create_app(tmp_path / "a.db")
        app.state.engine.dispose()
        return "/admin/faults" in app.openapi()["paths"]

    monkeypatch.delenv(ADMIN_ENV, raising=False)
    assert not has_admin()
    monkeypatch.setenv(ADMIN_ENV, "1")
    assert has_admin()


async def test_malformed_fault_settings_are_refused(admin: httpx.AsyncClient) -> None:
    r = await admin.post("/admin/faults", json={"error_rate": 2})
    assert r.status_code == 422
    r = await admin.post("/admin/faults", json={"operations": {"cancel": {"mode": "explode"}}})
    assert r.status_code == 422
    r = await admin.post("/admin/faults", json={"operations": {"cancle": {}}})
    assert r.status_code == 422


def test_every_store_route_is_a_known_operation() -> None:
    routes = [
        *user_routes.router.routes,
        *order_routes.router.routes,
        *product_routes.router.routes,
        *checkout_routes.router.routes,  # sales (issue 14)
        *discount_routes.router.routes,
    ]
    assert {getattr(r, "name", None) for r in routes} == OPERATIONS
