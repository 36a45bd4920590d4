"""`supportflow experiments ...` as a merchant runs it, against a real app database: JSON
out like `tenants create`, clear errors (exit 2) that change nothing, changes in the audit
trail, and a results table that never shows an uplift without its interval."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import AuditLogRow, ExperimentRow, SalesConversion, SalesTouch
from supportflow.tenants.service import create_tenant
from tests.helpers import SUPPORTFLOW, TEST_ENCRYPTION_KEYS

ARMS = ["--arm", "holdout:50:send=false", "--arm", "ten-off:50:offer=discount,discount_percent=10"]


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SUPPORTFLOW, "experiments", *args],
        env={
            **os.environ,
            "SUPPORTFLOW_DATABASE_URL": database_url,
            "SUPPORTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
            "SUPPORTFLOW_LOG_LEVEL": "WARNING",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _record(
    sessions: sessionmaker[Session], tenant: str, eid: str, arm: str, n: int, won: int
) -> None:
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with sessions.begin() as s:
        for i in range(n):
            s.add(
                SalesTouch(
                    touch_id=f"{arm}-{i}",
                    tenant_id=tenant,
                    store_user_id=f"u{i}",
                    kind="abandoned_checkout",
                    subject_id=f"chk-{i}",
                    experiment_id=eid,
                    arm=arm,
                    status="sent",
                    workflow_id=f"wf-{arm}-{i}",
                    at=at,
                )
            )
        s.flush()
        for i in range(won):
            s.add(
                SalesConversion(
                    tenant_id=tenant,
                    order_id=f"#{arm}-{i}",
                    touch_id=f"{arm}-{i}",
                    amount=Decimal("20.00"),
                    placed_at=at,
                )
            )


def test_create_start_stop_and_results_from_the_command_line(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    shop = create_tenant(sessions, "Cli Shop").tenant_id
    other = create_tenant(sessions, "Cli Other").tenant_id
    made = _json(
        _cli(
            database_url,
            "create",
            "--tenant",
            "Cli Shop",  # by name, like the other commands
            "--name",
            "Ten off",
            "--behaviour",
            "abandoned_checkout",
            *ARMS,
        )
    )
    eid = made["experiment_id"]
    assert made["tenant_id"] == shop and made["status"] == "draft" and "salt" not in made
    assert made["arms"][1]["params"] == {
        "offer": "discount",
        "discount_percent": 10,
        "delay_minutes": None,
        "send": True,
    }
    assert _json(_cli(database_url, "list", "--tenant", shop))["experiments"][0] == made
    assert _json(_cli(database_url, "show", "--tenant", shop, eid)) == made
    assert _json(_cli(database_url, "start", "--tenant", shop, eid))["status"] == "running"

    # A second one on the same behaviour cannot start; another tenant cannot see this one.
    second = _json(
        _cli(
            database_url,
            "create",
            "--tenant",
            shop,
            "--name",
            "Again",
            "--behaviour",
            "abandoned_checkout",
            *ARMS,
        )
    )
    refused = _cli(database_url, "start", "--tenant", shop, second["experiment_id"])
    assert refused.returncode == 2 and "already running" in refused.stderr
    hidden = _cli(database_url, "show", "--tenant", other, eid)
    assert hidden.returncode == 2 and f"no experiment '{eid}'" in hidden.stderr

    _record(sessions, shop, eid, "holdout", 500, 50)
    _record(sessions, shop, eid, "ten-off", 500, 80)
    results = _json(_cli(database_url, "results", "--tenant", shop, eid, "--json"))
    assert results["model"] == (
        "intention-to-treat, Wilson 95% per arm, Newcombe hybrid score 95% for differences"
    )
    assert results["comparisons"][0]["difference"] == pytest.approx(0.06)

    table = _cli(database_url, "results", "--tenant", shop, eid)
    assert table.returncode == 0, table.stderr
    text = table.stdout
    assert "model: intention-to-treat, Wilson 95% per arm" in text
    row = next(line for line in text.splitlines() if "ten-off" in line)
    # The rate, the difference and the uplift, each followed by its interval on the same line.
    assert re.search(r"16\.0% \[\d+\.\d%, \d+\.\d%\]", row), row
    assert re.search(r"\+6\.0 pp \[[-+]\d+\.\d pp, [-+]\d+\.\d pp\]", row), row
    assert re.search(r"\+60\.0% \[[-+]\d+\.\d%, [-+]\d+\.\d%\]", row), row
    assert "interim" in text

    stopped = _json(_cli(database_url, "stop", "--tenant", shop, eid))
    assert stopped["status"] == "stopped" and stopped["stopped_at"]
    with sessions() as s:
        actions = s.execute(
            select(AuditLogRow.action, AuditLogRow.actor_id, AuditLogRow.target)
            .where(AuditLogRow.tenant_id == shop)
            .order_by(AuditLogRow.seq)
        ).all()
    assert [tuple(a) for a in actions] == [
        ("experiment.create", "cli", eid),
        ("experiment.start", "cli", eid),
        ("experiment.create", "cli", second["experiment_id"]),
        ("experiment.stop", "cli", eid),
    ]


@pytest.mark.parametrize(
    ("arms", "says"),
    [
        (["--arm", "a:50"], "at least 2"),
        (["--arm", "a", "--arm", "b:5"], "NAME:WEIGHT"),
        (["--arm", "a:lots", "--arm", "b:5"], "weight must be a whole number"),
        (["--arm", "a:50:offer=discount", "--arm", "b:50"], "needs discount_percent"),
        (["--arm", "a:50:send=maybe", "--arm", "b:50"], "send must be true or false"),
        (["--arm", "a:50:offer", "--arm", "b:50"], "parameters are key=value"),
    ],
)
def test_bad_arms_exit_2_and_create_nothing(
    database_url: str, sessions: sessionmaker[Session], arms: list[str], says: str
) -> None:
    shop = create_tenant(sessions, "Bad Arms").tenant_id
    done = _cli(
        database_url, "create", "--tenant", shop, "--name", "x", "--behaviour", "retention", *arms
    )
    assert done.returncode == 2
    assert says in done.stderr and done.stderr.startswith("error: ")
    with sessions() as s:
        assert s.scalars(select(ExperimentRow)).all() == []
        assert s.scalars(select(AuditLogRow)).all() == []
