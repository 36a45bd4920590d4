"""The database side of routing and the inbox watchdog (issue 14): reading a tenant's lines and
operators as management/routing.py and watchdog.py need them, writing assignments and
escalations, and operators' presence.

Writes are conditional on what was read (the line's version, nobody holding it, the
assignee or escalation read): a conversation that rewrote its line meanwhile, or a claim,
wins, and the line is looked at again next poll. Each write records the poll that made it
(``routing_poll``), so a poll retried after it wrote finds its own work instead of doing
it again.

Two clocks: a line's times (``since``, ``assigned_at``) are workflow time, as the
conversation and the management agent see it; presence (sessions, ``last_seen_at``) is the
wall clock the API writes. In production they agree; on a time-skipping test server they do
not, and each is compared only with its own kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import InboxRow, Operator, OperatorRoutingRow, OperatorSession
from supportflow.inbox.model import InboxApproval
from supportflow.management.routing import Assignment, Candidate, RoutableLine
from supportflow.management.watchdog import WatchedLine
from supportflow.operators.permissions import Role

# Presence is written at most this often per operator (the console asks every few seconds).
SEEN_EVERY = timedelta(minutes=1)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns: they were stored in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class InboxSnapshot:
    """A tenant's lines that need a person, for routing and for the watchdog."""

    routable: list[RoutableLine]
    watched: list[WatchedLine]
    # Operator id -> lines they hold, or are assigned and nobody holds.
    load: dict[str, int]


def read_lines(s: Session, tenant_id: str) -> InboxSnapshot:
    rows = list(s.scalars(select(InboxRow).where(InboxRow.tenant_id == tenant_id)))
    routable: list[RoutableLine] = []
    watched: list[WatchedLine] = []
    load: dict[str, int] = {}
    for r in rows:
        holder = r.held_by or (r.assigned_to if r.reason is not None else None)
        if holder is not None:
            load[holder] = load.get(holder, 0) + 1
        if r.reason is None:
            continue  # held only: nobody else is needed
        approval = InboxApproval.model_validate_json(r.approval) if r.approval else None
        since = _aware(r.since)
        amount = Decimal(str(approval.amount)) if approval and approval.amount is not None else None
        routable.append(
            RoutableLine(
                customer_id=r.customer_id,
                workflow_id=r.workflow_id,
                version=r.version,
                reason=r.reason,
                since=since,
                held_by=r.held_by,
                approval=approval is not None,
                approval_amount=amount,
                approval_escalated=(approval is not None and approval.escalated)
                or r.escalated_at is not None,
                assigned_to=r.assigned_to,
                assigned_at=_aware(r.assigned_at),
                routed_to=tuple(json.loads(r.routed_to or "[]")),
            )
        )
        watched.append(
            WatchedLine(
                customer_id=r.customer_id,
                workflow_id=r.workflow_id,
                reason=r.reason,
                since=since,
                held_by=r.held_by,
                approval=approval is not None,
                approval_requested_at=approval.requested_at if approval else None,
                approval_escalated=approval.escalated if approval else False,
                escalated_at=_aware(r.escalated_at),
            )
        )
    return InboxSnapshot(routable=routable, watched=watched, load=load)


def read_candidates(
    s: Session, tenant_id: str, load: dict[str, int], wall_now: datetime, presence: timedelta
) -> list[Candidate]:
    """Every operator of the tenant (disabled ones too: an assignee who was disabled is
    re-routed), with whether they are signed in: a live console session that began, or was
    last seen in the console, within ``presence``. Logging out ends presence at once."""
    operators = list(s.scalars(select(Operator).where(Operator.tenant_id == tenant_id)))
    live = dict(
        s.execute(
            select(OperatorSession.operator_id, func.max(OperatorSession.created_at))
            .where(
                OperatorSession.tenant_id == tenant_id,
                OperatorSession.revoked_at.is_(None),
                OperatorSession.expires_at > wall_now,
            )
            .group_by(OperatorSession.operator_id)
        ).all()
    )
    routing = {
        r.operator_id: r
        for r in s.scalars(
            select(OperatorRoutingRow).where(OperatorRoutingRow.tenant_id == tenant_id)
        )
    }
    since = wall_now - presence
    out: list[Candidate] = []
    for o in operators:
        r = routing.get(o.id)
        seen = _aware(r.last_seen_at) if r is not None else None
        began = _aware(live.get(o.id))
        present = began is not None and max(began, seen or began) >= since
        out.append(
            Candidate(
                operator_id=o.id,
                role=Role(o.role),
                approval_limit=o.approval_limit,
                disabled=o.disabled_at is not None,
                present=present,
                load=load.get(o.id, 0),
                last_assigned_at=_aware(r.last_assigned_at) if r is not None else None,
            )
        )
    return out


@dataclass(frozen=True)
class Escalation:
    customer_id: str
    workflow_id: str
    version: int


def apply(
    sessions: sessionmaker[Session],
    tenant_id: str,
    assignments: list[Assignment],
    escalations: list[Escalation],
    now: datetime,
    poll_ref: str,
) -> tuple[list[Assignment], list[Escalation]]:
    """Write what the poll decided, in one transaction; what was written (a line changed
    meanwhile is left for the next poll)."""
    done: list[Assignment] = []
    escalated: list[Escalation] = []
    with sessions.begin() as s:
        for a in assignments:
            same_assignee = (
                InboxRow.assigned_to.is_(None)
                if a.previous is None
                else InboxRow.assigned_to == a.previous
            )
            result = s.execute(
                update(InboxRow)
                .where(
                    InboxRow.tenant_id == tenant_id,
                    InboxRow.customer_id == a.customer_id,
                    InboxRow.version == a.version,
                    InboxRow.held_by.is_(None),
                    same_assignee,
                )
                .values(
                    assigned_to=a.operator_id,
                    assigned_at=now,
                    routed_to=json.dumps(list(a.routed_to)),
                    routing_poll=poll_ref,
                )
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 1:
                done.append(a)
        for e in escalations:
            result = s.execute(
                update(InboxRow)
                .where(
                    InboxRow.tenant_id == tenant_id,
                    InboxRow.customer_id == e.customer_id,
                    InboxRow.version == e.version,
                    InboxRow.held_by.is_(None),
                    InboxRow.escalated_at.is_(None),
                )
                .values(escalated_at=now, routing_poll=poll_ref)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 1:
                escalated.append(e)
        # Round robin's order: each operator's latest assignment of this poll (now + its
        # place in the poll, so two assigned in one poll keep their order next time).
        latest: dict[str, datetime] = {}
        for a in done:
            latest[a.operator_id] = now + timedelta(microseconds=a.seq)
        for operator_id, at in sorted(latest.items()):
            row = s.get(OperatorRoutingRow, operator_id)
            if row is None:
                s.add(
                    OperatorRoutingRow(
                        operator_id=operator_id, tenant_id=tenant_id, last_assigned_at=at
                    )
                )
            else:
                row.last_assigned_at = at
    return done, escalated


@dataclass(frozen=True)
class PollWork:
    """A line this poll assigned or escalated, as stored (for an activity retried after it
    wrote)."""

    customer_id: str
    workflow_id: str
    reason: str | None
    since: datetime | None
    assigned_to: str | None
    previous: str | None
    assigned: bool
    escalated: bool


def done_by_poll(
    sessions: sessionmaker[Session], tenant_id: str, poll_ref: str, now: datetime
) -> list[PollWork]:
    with sessions() as s:
        rows = list(
            s.scalars(
                select(InboxRow).where(
                    InboxRow.tenant_id == tenant_id, InboxRow.routing_poll == poll_ref
                )
            )
        )
    out: list[PollWork] = []
    for r in rows:
        routed = json.loads(r.routed_to or "[]")
        out.append(
            PollWork(
                customer_id=r.customer_id,
                workflow_id=r.workflow_id,
                reason=r.reason,
                since=_aware(r.since),
                assigned_to=r.assigned_to,
                previous=routed[-2] if len(routed) >= 2 else None,
                assigned=_aware(r.assigned_at) == now,
                escalated=_aware(r.escalated_at) == now,
            )
        )
    return out


def mark_seen(
    sessions: sessionmaker[Session], tenant_id: str, operator_id: str, at: datetime
) -> bool:
    """Record that the operator was in the console at ``at`` (a write at most once a
    minute); False when nothing needed writing."""
    with sessions() as s:
        operator = s.get(Operator, operator_id)
        if operator is None or operator.tenant_id != tenant_id:
            return False  # never another tenant's operator
        row = s.get(OperatorRoutingRow, operator_id)
        seen = _aware(row.last_seen_at) if row is not None else None
        if seen is not None and at - seen < SEEN_EVERY:
            return False
    try:
        with sessions.begin() as s:
            row = s.get(OperatorRoutingRow, operator_id)
            if row is None:
                s.add(OperatorRoutingRow(operator_id=operator_id, tenant_id=tenant_id))
                s.flush()
            s.execute(
                update(OperatorRoutingRow)
                .where(
                    and_(
                        OperatorRoutingRow.operator_id == operator_id,
                        OperatorRoutingRow.tenant_id == tenant_id,
                    )
                )
                .values(last_seen_at=at)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        return False  # another request of the same operator wrote it first
    return True


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
