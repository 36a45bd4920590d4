"""`supportflow operators ...` as a merchant runs it (a real process, a real database):
create prints the first password and token once, list shows no secret, token/revoke-token/
disable do what they say, and bad input is a clear error that changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from sqlalchemy import func, select

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.models import Operator
from supportflow.operators.accounts import principal_for_token
from supportflow.operators.credentials import verify_password
from tests.helpers import SUPPORTFLOW, TEST_ENCRYPTION_KEYS, run_tenants_cli


def _run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SUPPORTFLOW, "operators", *args],
        env={
            **os.environ,
            "SUPPORTFLOW_DATABASE_URL": database_url,
            "SUPPORTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_operators_cli(database_url: str) -> None:
    tenant = json.loads(run_tenants_cli(database_url, "create", "Cli Shop").stdout)["tenant_id"]
    created = _run(
        database_url,
        *("create", "--tenant", "Cli Shop", "--email", "Ann@Shop.example"),
        *("--role", "agent", "--approval-limit", "49.99"),
    )
    made = _json(created)
    assert made["operator_id"].startswith("op_") and made["tenant_id"] == tenant
    assert made["email"] == "ann@shop.example" and made["approval_limit"] == "49.99"
    password, token = made["password"], made["api_token"]
    assert len(password) >= 20 and token.startswith("sf_op_")
    # Secrets go to stdout only, once: never to the log on stderr.
    assert password not in created.stderr and token not in created.stderr

    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as s:
            row = s.get(Operator, made["operator_id"])
            assert row is not None and verify_password(row.password_hash, password)
        who = principal_for_token(sessions, token)
        assert who is not None and who.operator_id == made["operator_id"]

        listed = _run(database_url, "list", "--tenant", tenant)
        (shown,) = _json(listed)["operators"]
        assert shown["status"] == "active" and shown["role"] == "agent"
        assert password not in listed.stdout and token not in listed.stdout

        second = _json(_run(database_url, "token", "--operator", made["operator_id"]))
        assert second["api_token"] != token and second["status"] == "active"
        revoked = _json(_run(database_url, "revoke-token", "--token-id", made["token_id"]))
        assert revoked["status"] == "revoked"
        assert principal_for_token(sessions, token) is None
        assert principal_for_token(sessions, second["api_token"]) is not None

        bob = ("create", "--tenant", tenant, "--email", "bob@shop.example")
        bad = [
            ("create", "--tenant", tenant, "--email", "ann@shop.example", "--role", "agent"),
            ("create", "--tenant", tenant, "--email", "bob@shop.example", "--role", "boss"),
            ("create", "--tenant", tenant, "--email", "bob", "--role", "agent"),
            *[
                (*bob, "--role", role, "--approval-limit", limit)
                for role, limit in (("agent", "ten"), ("agent", "-5"), ("admin", "10"))
            ],
            (
                "create",
                "--tenant",
                "No Such Shop",
                "--email",
                "bob@shop.example",
                "--role",
                "agent",
            ),
            ("disable", "--operator", "op_nope"),
            ("revoke-token", "--token-id", "ot_nope"),
        ]
        for args in bad:
            done = _run(database_url, *args)
            assert done.returncode == 2, (args, done.stdout, done.stderr)
            assert done.stderr.strip().splitlines()[-1].startswith("error: "), done.stderr
            assert "Traceback" not in done.stderr
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(Operator)) == 1

        disabled = _json(_run(database_url, "disable", "--operator", made["operator_id"]))
        assert disabled["status"] == "disabled" and disabled["disabled_at"]
        assert principal_for_token(sessions, second["api_token"]) is None
        refused = _run(database_url, "token", "--operator", made["operator_id"])
        assert refused.returncode == 2 and "disabled" in refused.stderr
    finally:
        engine.dispose()
