"""Appending to a tenant's chain.

Appends in one tenant must never fork the chain, so each append holds the tenant's chain
while it reads the head and writes the next entry:

- Postgres: a transaction-scoped advisory lock keyed on the tenant (other tenants, and
  everything else in the database, are not held up);
- SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock before the head is read (a
  deferred transaction would read a head another writer is about to move, then fail).

The unique (tenant_id, seq) constraint is the backstop: should two appends ever read the same
head, the second insert fails and is retried on the new head. An append with an idempotency
key already in the tenant's trail returns that entry instead (a retried activity appends
once); two such appends racing meet on the unique (tenant_id, idempotency_key).
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from supportflow.audit.entry import GENESIS, AuditEntry, NewEntry, entry_hash, utc
from supportflow.db.models import AuditLogRow

# First key of the two-int advisory lock: this lock's namespace (an arbitrary constant), so
# it never collides with another feature's advisory locks on the same tenant.
_LOCK_NAMESPACE = 0x5F_A0D1
_TRIES = 8


def entry_of(row: AuditLogRow) -> AuditEntry:
    return AuditEntry(
        tenant_id=row.tenant_id,
        seq=row.seq,
        at=utc(row.at),
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        action=row.action,
        target=row.target,
        details=dict(row.details or {}),
        workflow_id=row.workflow_id,
        run_id=row.run_id,
        request_id=row.request_id,
        idempotency_key=row.idempotency_key,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def row_hash(row: AuditLogRow) -> str:
    """The hash ``row``'s content and link give (what its ``hash`` must be)."""
    fields = dataclasses.asdict(entry_of(row))
    del fields["hash"]
    return entry_hash(**fields)


def _lock_chain(s: Session, tenant_id: str) -> None:
    """Hold the tenant's chain until this transaction ends."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        s.execute(select(func.pg_advisory_xact_lock(_LOCK_NAMESPACE, func.hashtext(tenant_id))))
    elif dialect == "sqlite":
        # pysqlite opens no transaction for a SELECT; this one takes the write lock now (or
        # waits for it, up to the connection's busy timeout).
        s.connection().exec_driver_sql("BEGIN IMMEDIATE")
    else:  # pragma: no cover - other databases are not supported by the app
        raise RuntimeError(f"the audit trail does not support {dialect}")


def _append_once(sessions: sessionmaker[Session], new: NewEntry) -> AuditEntry:
    with sessions.begin() as s:
        _lock_chain(s, new.tenant_id)
        if new.idempotency_key is not None:
            done = s.scalar(
                select(AuditLogRow).where(
                    AuditLogRow.tenant_id == new.tenant_id,
                    AuditLogRow.idempotency_key == new.idempotency_key,
                )
            )
            if done is not None:
                return entry_of(done)
        head = s.execute(
            select(AuditLogRow.seq, AuditLogRow.hash)
            .where(AuditLogRow.tenant_id == new.tenant_id)
            .order_by(AuditLogRow.seq.desc())
            .limit(1)
        ).first()
        seq, prev_hash = (head[0] + 1, head[1]) if head is not None else (1, GENESIS)
        # Taken while the chain is held, so times never go backwards along a chain.
        at = datetime.now(UTC)
        row = AuditLogRow(
            tenant_id=new.tenant_id,
            seq=seq,
            at=at,
            actor_kind=str(new.actor_kind),
            actor_id=new.actor_id,
            action=new.action,
            target=new.target,
            details=dict(new.details),
            workflow_id=new.workflow_id,
            run_id=new.run_id,
            request_id=new.request_id,
            idempotency_key=new.idempotency_key,
            prev_hash=prev_hash,
        )
        row.hash = row_hash(row)
        s.add(row)
        s.flush()
        return entry_of(row)


def append(sessions: sessionmaker[Session], new: NewEntry) -> AuditEntry:
    """Append ``new`` to its tenant's chain and return the stored entry (or, for an
    idempotency key already used in this tenant, the entry it appended then).

    Raises ``InvalidEntry`` (nothing written) for an entry the trail refuses."""
    new = new.checked()
    for attempt in range(_TRIES):
        try:
            return _append_once(sessions, new)
        except IntegrityError:
            # Lost a race for the same seq or idempotency key: the next try sees the winner.
            if attempt == _TRIES - 1:
                raise
        except OperationalError as err:
            # SQLite: the write lock stayed busy past the busy timeout; try again.
            if "locked" not in str(err) or attempt == _TRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")
