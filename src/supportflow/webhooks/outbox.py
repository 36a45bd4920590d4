"""The outbox of outbound webhooks: events written in the transaction of the change they
report, claimed and marked by the dispatcher.

``conversation.needs_person`` is written by the inbox (``InboxStore.put``), in the same
transaction as the inbox line, when a conversation starts waiting for a person, breaches an
SLA while waiting, or has its approval escalated. Nothing is written for a tenant without an
endpoint. A retried inbox write is refused by its version, so it writes no second event.

Claiming is safe with several dispatchers: on Postgres the due rows are locked with
``FOR UPDATE SKIP LOCKED``; on both backends a row is claimed by a conditional update that
moves its next attempt past a lease, and only the claim's holder may mark it.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import InboxRow, WebhookEndpointRow, WebhookOutboxRow
from supportflow.outbox_delivery import Attempt as Attempt  # re-exported: one POST's outcome

if TYPE_CHECKING:
    # Only a type here: the inbox store imports this module.
    from supportflow.inbox.model import InboxItem

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
NEEDS_PERSON = "conversation.needs_person"

# waiting: a new wait for a person began (handoff, approval, stuck); sla_breach: a wait went
# past one of the tenant's SLAs; approval_escalated: nobody decided an approval in time.
Trigger = Literal["waiting", "sla_breach", "approval_escalated"]


@dataclass(frozen=True)
class PersonWait:
    """What an inbox line said before a write: the events are the difference."""

    reason: str | None
    since: datetime | None
    breaches: frozenset[str]
    escalated: bool

    @classmethod
    def of_row(cls, row: InboxRow) -> PersonWait:
        approval = json.loads(row.approval) if row.approval else None
        return cls(
            reason=row.reason,
            since=_aware(row.since),
            breaches=frozenset(json.loads(row.sla_breaches or "[]")),
            escalated=bool(approval and approval.get("escalated")),
        )


def needs_person_data(previous: PersonWait | None, item: InboxItem) -> list[dict[str, Any]]:
    """The ``data`` of each event this inbox write makes (none when nobody is needed anew).
    Ids, kinds and times only: no message text, detail or customer details."""
    if item.reason is None:
        return []
    base: dict[str, Any] = {
        "customer_id": item.customer_id,
        "workflow_id": item.workflow_id,
        "reason": item.reason,
        "since": item.since.isoformat() if item.since is not None else None,
        "channel": item.channel,
        "inbox_version": item.version,
        "held": item.held_by is not None,
        "approval_id": item.approval.approval_id if item.approval is not None else None,
    }
    new_wait = (
        previous is None
        or previous.reason != item.reason
        or (previous.since is not None and item.since is not None and previous.since != item.since)
    )
    out: list[dict[str, Any]] = []
    if new_wait:
        out.append({**base, "trigger": "waiting", "sla_breach": None})
    old_breaches = frozenset() if previous is None or new_wait else previous.breaches
    for breach in sorted(set(item.sla_breaches) - old_breaches):
        out.append({**base, "trigger": "sla_breach", "sla_breach": breach})
    escalated = item.approval is not None and item.approval.escalated
    if escalated and (previous is None or new_wait or not previous.escalated):
        out.append({**base, "trigger": "approval_escalated", "sla_breach": None})
    return out


def enqueue_needs_person(s: Session, previous: PersonWait | None, item: InboxItem) -> int:
    """Write this inbox change's events in ``s``'s transaction (the inbox write's); the number
    written (0 when the tenant has no endpoint)."""
    events = needs_person_data(previous, item)
    if not events or s.get(WebhookEndpointRow, item.tenant_id) is None:
        return 0
    for data in events:
        enqueue(s, item.tenant_id, NEEDS_PERSON, data)
    return len(events)


def enqueue(s: Session, tenant_id: str, event_type: str, data: dict[str, Any]) -> str:
    """One event in the outbox, in ``s``'s transaction; its id (fixed now, kept by retries)."""
    event_id = "evt_" + uuid.uuid4().hex
    created = datetime.now(UTC)
    body = {
        "id": event_id,
        "type": event_type,
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "tenant_id": tenant_id,
        "data": data,
    }
    s.add(
        WebhookOutboxRow(
            event_id=event_id,
            tenant_id=tenant_id,
            event_type=event_type,
            body=json.dumps(body, separators=(",", ":"), sort_keys=True),
            created_at=created,
            status=PENDING,
            attempts=0,
            next_attempt_at=time.time(),
        )
    )
    return event_id


@dataclass(frozen=True)
class Claimed:
    id: int
    event_id: str
    tenant_id: str
    body: str
    attempts: int  # before this one
    claim: str


def claim_due(
    sessions: sessionmaker[Session], *, now: float, limit: int, lease_s: float
) -> list[Claimed]:
    """Claim up to ``limit`` due rows for this dispatcher for ``lease_s`` seconds."""
    if limit <= 0:
        return []
    token = uuid.uuid4().hex
    t = WebhookOutboxRow
    due = (
        select(t.id)
        .where(t.status == PENDING, t.next_attempt_at <= now)
        .order_by(t.next_attempt_at, t.id)
        .limit(limit)
    )
    claim = update(t).values(claim=token, next_attempt_at=now + lease_s)
    with sessions.begin() as s:
        if s.get_bind().dialect.name == "postgresql":
            # Rows another dispatcher holds are skipped, not waited for.
            ids = list(s.scalars(due.with_for_update(skip_locked=True)))
            if not ids:
                return []
            s.execute(claim.where(t.id.in_(ids)))
        else:
            # SQLite: one statement, so it takes the write lock at once (writers queue up on
            # the busy timeout); the condition is evaluated under that lock, so a row another
            # dispatcher claimed first is no longer due here.
            s.execute(claim.where(t.id.in_(due.scalar_subquery())))
        rows = s.scalars(select(t).where(t.claim == token).order_by(t.id))
        return [Claimed(r.id, r.event_id, r.tenant_id, r.body, r.attempts, token) for r in rows]


def record_attempt(
    sessions: sessionmaker[Session],
    row: Claimed,
    attempt: Attempt,
    *,
    max_attempts: int,
    backoff_s: float,
    now: float | None = None,
) -> str | None:
    """Count the attempt: delivered, given up after ``max_attempts``, or due again after
    ``backoff_s``. The row's new status; None when the claim was lost (its lease ran out and
    another dispatcher took it, or the endpoint was removed): nothing is changed then."""
    t = WebhookOutboxRow
    attempts = row.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_status_code": attempt.status_code,
        "last_error": attempt.error,
        "claim": None,
    }
    if attempt.ok:
        values.update(status=DELIVERED, finished_at=datetime.now(UTC))
    elif attempts >= max_attempts:
        values.update(status=FAILED, finished_at=datetime.now(UTC))
    else:
        values.update(next_attempt_at=(time.time() if now is None else now) + backoff_s)
    with sessions.begin() as s:
        result = s.execute(
            update(t)
            .where(t.id == row.id, t.claim == row.claim, t.status == PENDING)
            .values(**values)
        )
        if getattr(result, "rowcount", 0) != 1:
            return None
    return str(values.get("status", PENDING))


def give_up(sessions: sessionmaker[Session], row: Claimed, error: str) -> None:
    """Mark a claimed row failed without sending it (its tenant has no endpoint any more)."""
    t = WebhookOutboxRow
    with sessions.begin() as s:
        s.execute(
            update(t)
            .where(t.id == row.id, t.claim == row.claim, t.status == PENDING)
            .values(status=FAILED, last_error=error, claim=None, finished_at=datetime.now(UTC))
        )


def next_due(sessions: sessionmaker[Session]) -> float | None:
    """When the next pending row falls due (None: nothing pending)."""
    t = WebhookOutboxRow
    with sessions() as s:
        return s.scalars(
            select(t.next_attempt_at)
            .where(t.status == PENDING)
            .order_by(t.next_attempt_at)
            .limit(1)
        ).first()


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns: they were stored in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
