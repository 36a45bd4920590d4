"""API key rotation and revocation (issue 9 item 7): `supportflow tenants keys rotate|revoke|
list` as an operator runs them, on SQLite and Postgres, checked by what the HTTP API then
accepts (real uvicorn on loopback); and migration 0006 keeping every existing key working."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from supportflow.api.routers import store_connection
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.tenants.api_keys import UnknownKey, list_keys, revoke, rotate
from supportflow.tenants.keys import hash_key, new_api_key, new_chat_key
from supportflow.tenants.service import create_tenant, tenant_for_api_key
from tests.helpers import run_tenants_cli, serve_router


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_tenants_cli(database_url, *args)


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
async def merchant_api(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A merchant endpoint (GET /v1/store-connection) behind the API-key check."""
    upgrade(database_url)
    engine = make_engine(database_url)
    settings = Settings(data_dir=tmp_path, demo_store_tenants="*")
    try:
        async with serve_router(
            store_connection.router, settings, make_session_factory(engine)
        ) as base:
            yield base
    finally:
        engine.dispose()


async def _status(base: str, key: str) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        r = await http.get("/v1/store-connection", headers={"X-Api-Key": key})
        return r.status_code


async def test_rotate_keeps_the_old_key_for_the_grace_then_revoke_ends_one(
    database_url: str, merchant_api: str
) -> None:
    created = _json(_cli(database_url, "create", "Key Shop"))
    # `tenants create` prints what it always printed.
    assert set(created) >= {"tenant_id", "name", "api_key", "chat_key"}
    tenant, first = created["tenant_id"], created["api_key"]
    assert await _status(merchant_api, first) == 200

    (listed,) = _json(_cli(database_url, "keys", "list", tenant))["keys"]
    assert listed["last4"] == first[-4:] and listed["status"] == "active"
    assert set(listed) == {"key_id", "created_at", "last4", "expires_at", "revoked_at", "status"}

    rotated = _json(_cli(database_url, "keys", "rotate", "Key Shop", "--grace-hours", "1"))
    second = rotated["api_key"]
    assert second.startswith("sf_live_") and second != first
    assert rotated["previous_keys_expire_at"] is not None
    # Both work during the grace period.
    assert await _status(merchant_api, first) == 200
    assert await _status(merchant_api, second) == 200

    shown = _cli(database_url, "keys", "list", tenant)
    keys = _json(shown)["keys"]
    assert [k["status"] for k in keys] == ["expiring", "active"]
    assert first not in shown.stdout and second not in shown.stdout
    assert hash_key(first) not in shown.stdout and hash_key(second) not in shown.stdout

    # Revoking the old key ends it at once, on the next request.
    old_id = keys[0]["key_id"]
    done = _json(_cli(database_url, "keys", "revoke", tenant, "--key-id", old_id))
    assert done["valid_keys"] == [rotated["key_id"]] and done["revoked_at"]
    assert await _status(merchant_api, first) == 401
    assert await _status(merchant_api, second) == 200
    # Idempotent; a key of another tenant or no key at all is a clear error.
    assert _cli(database_url, "keys", "revoke", tenant, "--key-id", old_id).returncode == 0
    other = _json(_cli(database_url, "create", "Other Shop"))["tenant_id"]
    wrong = _cli(database_url, "keys", "revoke", other, "--key-id", rotated["key_id"])
    assert wrong.returncode == 2 and "has no API key" in wrong.stderr
    assert await _status(merchant_api, second) == 200  # untouched
    assert "Traceback" not in wrong.stderr


async def test_a_rotation_without_grace_ends_the_old_key_at_once_and_grace_expires(
    database_url: str, merchant_api: str
) -> None:
    created = _json(_cli(database_url, "create", "Quick Shop"))
    tenant, first = created["tenant_id"], created["api_key"]
    second = _json(_cli(database_url, "keys", "rotate", tenant, "--grace-hours", "0"))["api_key"]
    assert await _status(merchant_api, first) == 401
    assert await _status(merchant_api, second) == 200
    # A short grace (2 s) runs out on its own.
    third = _json(_cli(database_url, "keys", "rotate", tenant, "--grace-hours", "0.00056"))
    assert await _status(merchant_api, second) == 200
    await asyncio.sleep(2.5)
    assert await _status(merchant_api, second) == 401
    assert await _status(merchant_api, third["api_key"]) == 200
    statuses = [k["status"] for k in _json(_cli(database_url, "keys", "list", tenant))["keys"]]
    assert statuses == ["expired", "expired", "active"]


def test_bad_key_commands_are_refused_clearly(database_url: str) -> None:
    tenant = _json(_cli(database_url, "create", "Careful Shop"))["tenant_id"]
    for args, message in [
        (["keys", "rotate", tenant, "--grace-hours", "-1"], "between 0 and 720"),
        (["keys", "rotate", tenant, "--grace-hours", "10000"], "between 0 and 720"),
        (["keys", "rotate", "t_nope"], "no tenant"),
        (["keys", "list", "t_nope"], "no tenant"),
        (["keys", "revoke", tenant, "--key-id", "k_nope"], "has no API key"),
    ]:
        done = _cli(database_url, *args)
        assert done.returncode == 2, (args, done.stdout)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    (key,) = _json(_cli(database_url, "keys", "list", tenant))["keys"]
    assert key["status"] == "active"  # nothing changed


def test_service_rotation_never_lengthens_an_earlier_expiry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        t = create_tenant(sessions, "Service Shop")
        a = rotate(sessions, t.tenant_id, timedelta(hours=1))
        rotate(sessions, t.tenant_id, timedelta(days=7))
        views = list_keys(sessions, t.tenant_id)
        assert views[0].expires_at == a.previous_keys_expire_at  # still 1 h, not 7 days
        assert tenant_for_api_key(sessions, t.api_key) == t.tenant_id
        with pytest.raises(UnknownKey):
            revoke(sessions, "t_other", views[0].key_id)
        with pytest.raises(ValueError, match="grace"):
            rotate(sessions, t.tenant_id, timedelta(days=31))
    finally:
        engine.dispose()


def test_migration_0006_keeps_existing_keys_working(database_url: str) -> None:
    """A database from before 0006: its tenants' keys (hash only) move into the key table."""
    upgrade(database_url, "0005")
    key = new_api_key()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (id, name, api_key_hash, chat_key, created_at) "
                "VALUES ('t_old0000000000001', 'Old Shop', :h, :c, CURRENT_TIMESTAMP)"
            ),
            {"h": hash_key(key), "c": new_chat_key()},
        )
    engine.dispose()
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    try:
        assert tenant_for_api_key(sessions, key) == "t_old0000000000001"
        assert tenant_for_api_key(sessions, key + "x") is None
        (view,) = list_keys(sessions, "t_old0000000000001")
        assert view.last4 is None and view.status == "active"  # only the hash was ever kept
        rotated = rotate(sessions, "t_old0000000000001", timedelta(0))
        assert tenant_for_api_key(sessions, key) is None
        assert tenant_for_api_key(sessions, rotated.api_key) == "t_old0000000000001"
    finally:
        engine.dispose()
