"""`supportflow tenants create` as a merchant runs it, on SQLite and Postgres."""

from __future__ import annotations

import json
import subprocess

from sqlalchemy import create_engine, select

from supportflow.db.models import Tenant
from supportflow.tenants.keys import hash_key
from tests.helpers import run_tenants_cli


def _run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_tenants_cli(database_url, "create", *args)


def test_create_prints_keys_and_stores_only_the_hash(database_url: str) -> None:
    done = _run(database_url, "Acme Outdoor")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) >= {"tenant_id", "api_key", "chat_key"}
    assert out["api_key"] != out["chat_key"]
    engine = create_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(select(Tenant).where(Tenant.id == out["tenant_id"])).one()
    engine.dispose()
    assert row.api_key_hash == hash_key(out["api_key"])
    assert out["api_key"] not in (row.api_key_hash, row.chat_key)
    # Two tenants never share keys.
    second = json.loads(_run(database_url, "Acme Indoor").stdout)
    assert second["api_key"] != out["api_key"] and second["tenant_id"] != out["tenant_id"]


def test_bad_name_is_refused_clearly(database_url: str) -> None:
    done = _run(database_url, "<script>")
    assert done.returncode == 2
    assert "tenant name" in done.stderr
    assert "Traceback" not in done.stderr
