"""`supportflow audit export` and the key commands' entries, as an operator runs them."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from supportflow.audit.verify import verify
from tests.audit.conftest import run_cli


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_key_rotation_and_revocation_are_exported_in_order(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    created = _json(run_cli(database_url, "tenants", "create", "Cli Shop"))
    tenant = created["tenant_id"]
    rotated = _json(run_cli(database_url, "tenants", "keys", "rotate", tenant))
    key_id = rotated["key_id"]
    _json(run_cli(database_url, "tenants", "keys", "revoke", tenant, "--key-id", key_id))
    # A revocation that fails (unknown key) changes nothing and appends nothing.
    bad = run_cli(database_url, "tenants", "keys", "revoke", tenant, "--key-id", "k_nope")
    assert bad.returncode == 2

    done = run_cli(database_url, "audit", "export", "--tenant", "Cli Shop")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["seq"], e["action"], e["target"]) for e in lines] == [
        (1, "api_key.rotate", key_id),
        (2, "api_key.revoke", key_id),
    ]
    assert {(e["actor_kind"], e["actor_id"]) for e in lines} == {("system", "cli")}
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    assert verify(sessions).checked == {tenant: 2}

    later = run_cli(
        database_url, "audit", "export", "--tenant", tenant, "--since", "2100-01-01T00:00:00Z"
    )
    assert later.returncode == 0 and later.stdout == ""


def test_export_refuses_bad_times_and_unknown_tenants(database_url: str) -> None:
    bad = run_cli(database_url, "audit", "export", "--tenant", "t_x", "--since", "last week")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr
    backwards = run_cli(
        database_url,
        "audit",
        "export",
        "--tenant",
        "t_x",
        "--since",
        "2026-02-01",
        "--until",
        "2026-01-01",
    )
    assert backwards.returncode == 2 and "later than" in backwards.stderr
    unknown = run_cli(database_url, "audit", "export", "--tenant", "t_nobody")
    assert unknown.returncode == 2 and "no tenant" in unknown.stderr
