"""`supportflow audit verify` against rows edited with raw SQL, as someone with database
access would: an altered entry, a removed one and two swapped ones are each named (tenant and
seq), with a non-zero exit; an untouched trail passes with a count per tenant."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from supportflow.audit.entry import ActorKind, NewEntry
from supportflow.audit.log import append
from supportflow.audit.verify import verify
from tests.audit.conftest import run_cli


def _fill(sessions: sessionmaker[Session]) -> None:
    for i in range(5):
        append(
            sessions,
            NewEntry(
                "t_a",
                ActorKind.AGENT,
                "wf-1",
                "store.refund_order",
                target=f"#W000000{i}",
                details={"amount": 10.0 + i},
            ),
        )
    for _ in range(2):
        append(sessions, NewEntry("t_b", ActorKind.API_KEY, "k_1", "policy.update", target="t_b"))


def _sql(sessions: sessionmaker[Session], *statements: str) -> None:
    with sessions.begin() as s:
        for sql in statements:
            s.execute(text(sql))


# Each: raw SQL on t_a's chain, the problem verify must report, and the seq it must name.
TAMPERING = {
    "altered amount": (
        ["UPDATE audit_log SET details = '{\"amount\": 99.0}' WHERE tenant_id='t_a' AND seq=3"],
        "altered",
        3,
    ),
    "altered actor": (
        ["UPDATE audit_log SET actor_id = 'wf-2' WHERE tenant_id='t_a' AND seq=2"],
        "altered",
        2,
    ),
    "altered and rehashed": (
        # Recomputing the edited entry's own hash does not help: the next one links to the old.
        ["UPDATE audit_log SET target = '#W9' WHERE tenant_id='t_a' AND seq=4"],
        "altered",
        4,
    ),
    "removed": (["DELETE FROM audit_log WHERE tenant_id='t_a' AND seq=3"], "removed", 3),
    "removed first": (["DELETE FROM audit_log WHERE tenant_id='t_a' AND seq=1"], "removed", 1),
    "removed and renumbered": (
        [
            "DELETE FROM audit_log WHERE tenant_id='t_a' AND seq=2",
            "UPDATE audit_log SET seq = -seq WHERE tenant_id='t_a' AND seq > 2",
            "UPDATE audit_log SET seq = -seq - 1 WHERE tenant_id='t_a' AND seq < 0",
        ],
        "removed",
        2,
    ),
    "reordered": (
        [
            "UPDATE audit_log SET seq = -1 WHERE tenant_id='t_a' AND seq = 3",
            "UPDATE audit_log SET seq = 3 WHERE tenant_id='t_a' AND seq = 4",
            "UPDATE audit_log SET seq = 4 WHERE tenant_id='t_a' AND seq = -1",
        ],
        "reordered",
        3,
    ),
}


def test_an_untouched_trail_passes_with_counts_per_tenant(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    _fill(sessions)
    done = run_cli(database_url, "audit", "verify")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert json.loads(line) == {"ok": True, "entries": 7, "checked": {"t_a": 5, "t_b": 2}}
    one = run_cli(database_url, "audit", "verify", "--tenant", "t_b")
    assert json.loads(one.stdout)["checked"] == {"t_b": 2}


@pytest.mark.parametrize("case", TAMPERING)
def test_each_kind_of_tampering_is_named(
    database_url: str, sessions: sessionmaker[Session], case: str
) -> None:
    statements, problem, seq = TAMPERING[case]
    _fill(sessions)
    if case == "altered and rehashed":
        from sqlalchemy import select

        from supportflow.audit.log import row_hash
        from supportflow.db.models import AuditLogRow

        _sql(sessions, *statements)
        with sessions.begin() as s:
            row = s.scalars(
                select(AuditLogRow).where(AuditLogRow.tenant_id == "t_a", AuditLogRow.seq == 4)
            ).one()
            row.hash = row_hash(row)
        problem, seq = "removed", 5  # entry 5 now links to a hash no entry has
    else:
        _sql(sessions, *statements)
    result = verify(sessions)
    assert result.first_bad is not None
    assert (result.first_bad.tenant_id, result.first_bad.problem, result.first_bad.seq) == (
        "t_a",
        problem,
        seq,
    )
    # Only the tampered tenant is reported; the other chain still counts as whole.
    assert [b.tenant_id for b in result.bad] == ["t_a"]
    done = run_cli(database_url, "audit", "verify")
    assert done.returncode == 1
    assert f"tenant t_a entry {seq}" in done.stderr and problem in done.stderr
    summary = json.loads(done.stdout)
    assert summary["ok"] is False and summary["first_bad"]["seq"] == seq


def test_verify_names_an_unknown_tenant(database_url: str, sessions: sessionmaker[Session]) -> None:
    done = run_cli(database_url, "audit", "verify", "--tenant", "t_nobody")
    assert done.returncode == 2 and "no tenant" in done.stderr
