"""The chain itself: appends link by hash, one chain per tenant, a retried append (same
idempotency key) lands once, entries carrying personal data are refused, and concurrent
appends in one tenant never fork the chain. On real SQLite and Postgres."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.audit.entry import GENESIS, ActorKind, InvalidEntry, NewEntry
from supportflow.audit.log import append, row_hash
from supportflow.audit.verify import verify
from supportflow.db.models import AuditLogRow


def entry(tenant: str = "t_a", **kw: object) -> NewEntry:
    fields: dict[str, object] = {
        "tenant_id": tenant,
        "actor_kind": ActorKind.AGENT,
        "actor_id": "customer-wf-1",
        "action": "store.cancel_order",
        "target": "#W1234567",
        "details": {"amount": 12.5, "order_id": "#W1234567"},
    }
    fields.update(kw)
    return NewEntry(**fields)  # type: ignore[arg-type]


def rows(sessions: sessionmaker[Session], tenant: str) -> list[AuditLogRow]:
    with sessions() as s:
        return list(
            s.scalars(
                select(AuditLogRow).where(AuditLogRow.tenant_id == tenant).order_by(AuditLogRow.seq)
            )
        )


def test_entries_link_into_one_chain_per_tenant(sessions: sessionmaker[Session]) -> None:
    made = [append(sessions, entry("t_a", target=f"#W{i:07d}")) for i in range(3)]
    other = append(sessions, entry("t_b"))
    assert [e.seq for e in made] == [1, 2, 3] and other.seq == 1
    assert made[0].prev_hash == GENESIS and other.prev_hash == GENESIS
    assert [e.prev_hash for e in made[1:]] == [e.hash for e in made[:-1]]
    stored = rows(sessions, "t_a")
    # What was returned is what was stored, and the stored row hashes to its own hash.
    assert [r.hash for r in stored] == [e.hash for e in made]
    assert all(row_hash(r) == r.hash for r in stored)
    assert stored[0].details == {"amount": 12.5, "order_id": "#W1234567"}
    result = verify(sessions)
    assert result.ok and result.checked == {"t_a": 3, "t_b": 1}
    assert verify(sessions, "t_b").checked == {"t_b": 1}
    assert verify(sessions, "t_nobody").checked == {"t_nobody": 0}


def test_the_same_idempotency_key_appends_once(sessions: sessionmaker[Session]) -> None:
    first = append(sessions, entry(idempotency_key="wf:case1:cancel"))
    again = append(sessions, entry(idempotency_key="wf:case1:cancel"))
    assert again == first
    # The same key in another tenant is another write.
    assert append(sessions, entry("t_b", idempotency_key="wf:case1:cancel")).seq == 1
    assert len(rows(sessions, "t_a")) == 1


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"details": {"email": "jane@example.com"}}, "no personal data"),
        ({"details": {"note": "Jane Doe, 12 Oak Street"}}, "no personal data"),
        ({"details": {"nested": {"a": 1}}}, "string, number, boolean or null"),
        ({"details": {"amount": float("nan")}}, "finite"),
        ({"details": {"Bad Key": 1}}, "snake_case"),
        ({"action": "cancel"}, "dotted name"),
        ({"action": "Store.Cancel"}, "dotted name"),
        ({"actor_id": ""}, "actor_id"),
    ],
)
def test_entries_the_trail_must_not_keep_are_refused(
    sessions: sessionmaker[Session], change: dict[str, object], says: str
) -> None:
    with pytest.raises(InvalidEntry, match=says):
        append(sessions, entry(**change))
    assert rows(sessions, "t_a") == []


def test_an_unknown_actor_kind_is_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError, match="robot"):
        append(sessions, entry(actor_kind="robot"))
    assert rows(sessions, "t_a") == []


def _race(workers: int, job: Callable[[int], object]) -> list[object]:
    start = threading.Barrier(workers)

    def run(i: int) -> object:
        start.wait()
        return job(i)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, range(workers)))


def test_concurrent_appends_in_one_tenant_never_fork_the_chain(
    sessions: sessionmaker[Session],
) -> None:
    per_writer = 25

    def write(i: int) -> object:
        return [
            append(sessions, entry(actor_id=f"wf-{i}", target=f"#W{i}{n:06d}")).seq
            for n in range(per_writer)
        ]

    seqs = [s for batch in _race(4, write) for s in batch]  # type: ignore[attr-defined]
    assert sorted(seqs) == list(range(1, 4 * per_writer + 1))
    result = verify(sessions)
    assert result.ok and result.checked == {"t_a": 4 * per_writer}


def test_concurrent_retries_of_one_write_append_once(sessions: sessionmaker[Session]) -> None:
    append(sessions, entry(idempotency_key="other"))
    got = _race(4, lambda _: append(sessions, entry(idempotency_key="wf:step:refund")))
    assert len({e.seq for e in got}) == 1  # type: ignore[attr-defined]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditLogRow)) == 2
    assert verify(sessions).ok
