"""Recording an agent event: insert-or-ignore by (tenant, event_key), so a retried activity
or a replayed workflow records a fact once.

The management agent reads a tenant's events by id (a cursor), so a tenant's rows must become
visible in id order: on Postgres, where a lower id can commit after a higher one, each insert
holds the tenant's advisory lock until its transaction ends (as the audit trail does); SQLite
has one writer at a time. Always insert through here, never into the table directly.

``record_agent_event`` is what other parts call (the customer and sales workflows' activities):
a blocking database call, for an activity's thread or ``asyncio.to_thread``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import AgentEventRow
from supportflow.management.events import AgentEvent

# First key of the two-int advisory lock: this table's namespace (the audit trail has its own).
_LOCK_NAMESPACE = 0x5F_AE01


def insert_events(s: Session, events: list[AgentEvent]) -> int:
    """Insert each event not recorded yet (inside the caller's transaction); how many were
    new."""
    if not events:
        return 0
    rows: list[dict[str, Any]] = [
        {
            "tenant_id": e.tenant_id,
            "event_key": e.event_key,
            "kind": e.kind,
            "at": e.at,
            "amount": e.amount,
            "subject": e.subject,
            "data": dict(e.data),
        }
        for e in events
    ]
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        # Sorted: two transactions never wait on each other's tenants in opposite orders.
        for tenant_id in sorted({e.tenant_id for e in events}):
            s.execute(select(func.pg_advisory_xact_lock(_LOCK_NAMESPACE, func.hashtext(tenant_id))))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    new = 0
    for row in rows:
        # One statement per row: RETURNING says which were new, on both databases.
        stmt = (
            insert(AgentEventRow)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["tenant_id", "event_key"])
            .returning(AgentEventRow.id)
        )
        new += 1 if s.execute(stmt).first() is not None else 0
    return new


def record_agent_event(sessions: sessionmaker[Session], event: AgentEvent) -> bool:
    """Store ``event`` once; False when its key was already recorded in its tenant."""
    with sessions.begin() as s:
        return insert_events(s, [event]) == 1
