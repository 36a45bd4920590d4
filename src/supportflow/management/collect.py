"""One poll of the management agent: everything new in a tenant since the cursors, as a
compact batch (counters per hour, the guard's window, active guards, settings).

Three sources, one table. Agents record ``agent_events`` themselves; what exists today is
read too and written into ``agent_events`` under the shared keys (management/events.py), so
a fact recorded by both is counted once:

- the audit trail (cursor: the tenant's ``seq``): refunds (``store.refund_order``, with
  ``details.amount``; ``store.return_order_items``, whose amount the trail does not carry),
  approvals decided (``approval.approve|deny``), takeovers (``conversation.claim``);
- the inbox (cursor: ``updated_at``, read again from a little before it): a line handed over
  (``handoff``, ``stuck``) is one hand-over per ``since``; a ``stuck`` line is also a store
  error; each SLA breach on it is one breach. The inbox holds each conversation's latest
  state only: a hand-over that began and ended between two polls is not seen there (the
  customer workflow's own events, when it records them, are).

Then the new ``agent_events`` rows (cursor: ``id``) are summed per hour. Cursors only move
past what was counted, and imports are idempotent, so a retried poll counts nothing twice.
Only the last 8 days matter (what the workflow keeps): a first poll starts there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import AgentEventRow, AuditLogRow, InboxRow
from supportflow.management.batch import CollectInput, Cursors, LastHour, ManagementBatch
from supportflow.management.events import (
    AgentEvent,
    DataValue,
    audit_key,
    handoff_key,
    sla_breach_key,
    store_write_key,
    stuck_key,
)
from supportflow.management.guards_store import active_guards, last_lifts
from supportflow.management.metrics import KEEP_HOURS, CountedEvent, summarize
from supportflow.management.record import insert_events
from supportflow.management.settings_store import read_config
from supportflow.store.actions import StoreAction

# Rows one poll takes from each source; more waits for the next poll (which comes at once).
AUDIT_LIMIT = 2000
INBOX_LIMIT = 2000
EVENT_LIMIT = 10_000
# The inbox is read again from this long before its cursor: writers' clocks differ a little.
INBOX_OVERLAP = timedelta(minutes=2)
WINDOW = timedelta(hours=1)

_AUDIT_ACTIONS = (
    "store.refund_order",
    "store.return_order_items",
    "approval.approve",
    "approval.deny",
    "conversation.claim",
)
_STORE_ACTIONS = frozenset(a.value for a in StoreAction)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _amount(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


# --- the audit trail ------------------------------------------------------------------------
def audit_event(row: AuditLogRow) -> AgentEvent | None:
    """The event an audit entry stands for; None for entries the agent does not count."""
    at = _utc(row.at)
    details = row.details or {}
    key = (
        store_write_key("refund", row.idempotency_key)
        if row.idempotency_key is not None
        else audit_key(row.seq)
    )
    base = {"tenant_id": row.tenant_id, "at": at, "subject": _subject(row.target)}
    if row.action == "store.refund_order":
        amount = _amount(details.get("amount"))
        data = {} if amount is not None else {"amount_known": False}
        return AgentEvent(event_key=key, kind="refund", amount=amount, data=data, **base)
    if row.action == "store.return_order_items":
        # The store computes a return's refund; the trail has no amount for it.
        return AgentEvent(event_key=key, kind="refund", data={"amount_known": False}, **base)
    if row.action in ("approval.approve", "approval.deny"):
        decision = row.action.rsplit(".", 1)[1]
        return AgentEvent(
            event_key=audit_key(row.seq), kind="approval", data={"decision": decision}, **base
        )
    if row.action == "conversation.claim":
        return AgentEvent(event_key=audit_key(row.seq), kind="takeover", **base)
    return None


def _subject(target: str | None) -> str | None:
    if target is None:
        return None
    target = target[:100]
    return target if " " not in target and "@" not in target else None


def _import_audit(s: Session, tenant_id: str, after: int, floor: datetime) -> tuple[int, bool]:
    """Write the events of the tenant's new audit entries; the new cursor, and whether more
    entries wait."""
    # Seqs are committed in order (the chain is held through each commit): every entry up to
    # the head read now is visible, so the cursor may move to the head.
    head = s.scalar(select(func.max(AuditLogRow.seq)).where(AuditLogRow.tenant_id == tenant_id))
    if head is None or head <= after:
        return after, False
    if after == 0:
        # A first poll: only the kept days matter.
        start = s.scalar(
            select(func.min(AuditLogRow.seq)).where(
                AuditLogRow.tenant_id == tenant_id, AuditLogRow.at >= floor
            )
        )
        if start is None:
            return head, False
        after = start - 1
    rows = list(
        s.scalars(
            select(AuditLogRow)
            .where(
                AuditLogRow.tenant_id == tenant_id,
                AuditLogRow.action.in_(_AUDIT_ACTIONS),
                AuditLogRow.seq > after,
                AuditLogRow.seq <= head,
            )
            .order_by(AuditLogRow.seq)
            .limit(AUDIT_LIMIT)
        )
    )
    insert_events(s, [e for e in map(audit_event, rows) if e is not None])
    if len(rows) == AUDIT_LIMIT:
        return rows[-1].seq, True
    return head, False


# --- the inbox ------------------------------------------------------------------------------
def inbox_events(row: InboxRow) -> list[AgentEvent]:
    """The hand-over, store error and SLA breaches one inbox line shows."""
    if row.since is None:
        return []
    since = _utc(row.since)
    seen = _utc(row.updated_at) if row.updated_at is not None else since
    wf = row.workflow_id
    base = {"tenant_id": row.tenant_id, "subject": row.customer_id[:100]}
    out: list[AgentEvent] = []
    if row.reason in ("handoff", "stuck"):
        out.append(
            AgentEvent(
                event_key=handoff_key(wf, since),
                kind="handoff",
                at=since,
                data={"reason": row.reason},
                **base,
            )
        )
    if row.reason == "stuck":
        # The line's detail is "<action>: store unavailable" (workflows/retries.py).
        action = (row.detail or "").split(":", 1)[0].strip()
        data = {"action": action} if action in _STORE_ACTIONS else {}
        out.append(
            AgentEvent(
                event_key=stuck_key(wf, since), kind="store_error", at=since, data=data, **base
            )
        )
    for breach in _breaches(row.sla_breaches):
        out.append(
            AgentEvent(
                event_key=sla_breach_key(wf, since, breach),
                kind="sla_breach",
                # The inbox keeps no time for the breach: when the line said so is close.
                at=max(seen, since),
                data={"breach": breach},
                **base,
            )
        )
    return out


def _breaches(raw: str | None) -> list[str]:
    try:
        found = json.loads(raw or "[]")
    except ValueError:
        return []
    return [b for b in found if isinstance(b, str) and b.isidentifier()][:8]


def _import_inbox(
    s: Session, tenant_id: str, after: datetime | None, floor: datetime
) -> tuple[datetime | None, bool]:
    q = select(InboxRow).where(InboxRow.tenant_id == tenant_id, InboxRow.since.is_not(None))
    if after is not None:
        q = q.where(InboxRow.updated_at >= after - INBOX_OVERLAP)
    else:
        q = q.where(InboxRow.since >= floor)
    rows = list(s.scalars(q.order_by(InboxRow.updated_at).limit(INBOX_LIMIT)))
    events = [e for r in rows for e in inbox_events(r)]
    insert_events(s, events)
    stamps = [_utc(r.updated_at) for r in rows if r.updated_at is not None]
    newest = max([*stamps, *([after] if after is not None else [])], default=None)
    # A full page: move on from its last line (the overlap reads a few again, harmlessly).
    return newest, len(rows) == INBOX_LIMIT and newest != after


# --- the agent events -----------------------------------------------------------------------
def _new_events(
    s: Session, tenant_id: str, after: int, floor: datetime
) -> tuple[list[AgentEventRow], int, bool]:
    if after == 0:
        start = s.scalar(
            select(func.min(AgentEventRow.id)).where(
                AgentEventRow.tenant_id == tenant_id, AgentEventRow.at >= floor
            )
        )
        if start is None:
            last = s.scalar(
                select(func.max(AgentEventRow.id)).where(AgentEventRow.tenant_id == tenant_id)
            )
            return [], last or 0, False
        after = start - 1
    rows = list(
        s.scalars(
            select(AgentEventRow)
            .where(AgentEventRow.tenant_id == tenant_id, AgentEventRow.id > after)
            .order_by(AgentEventRow.id)
            .limit(EVENT_LIMIT)
        )
    )
    # A tenant's rows become visible in id order (management/record.py), so nothing below the
    # last id read can still appear.
    return rows, rows[-1].id if rows else after, len(rows) == EVENT_LIMIT


def _counted(rows: Iterable[AgentEventRow]) -> list[CountedEvent]:
    return [
        CountedEvent(r.kind, _utc(r.at), r.amount, cast(dict[str, DataValue], r.data or {}))
        for r in rows
    ]


# --- the guard's window ---------------------------------------------------------------------
def _window(s: Session, tenant_id: str, until: datetime, lifts: dict[str, datetime]) -> LastHour:
    start = until - WINDOW
    refunds_since = max(start, lifts.get("refund_spike", start))
    errors_since = max(start, lifts.get("store_error_burst", start))
    count, total = s.execute(
        select(func.count(), func.coalesce(func.sum(AgentEventRow.amount), 0)).where(
            AgentEventRow.tenant_id == tenant_id,
            AgentEventRow.kind == "refund",
            AgentEventRow.at > refunds_since,
            AgentEventRow.at <= until,
        )
    ).one()
    errors = list(
        s.scalars(
            select(AgentEventRow.data).where(
                AgentEventRow.tenant_id == tenant_id,
                AgentEventRow.kind == "store_error",
                AgentEventRow.at > errors_since,
                AgentEventRow.at <= until,
            )
        )
    )
    actions = sorted({str(d["action"]) for d in errors if d and isinstance(d.get("action"), str)})
    return LastHour(
        end=until,
        refunds_since=refunds_since,
        refunds=int(count),
        refund_amount=float(total or 0),
        errors_since=errors_since,
        store_errors=len(errors),
        error_actions=actions,
    )


def collect(sessions: sessionmaker[Session], inp: CollectInput) -> ManagementBatch:
    until = _utc(inp.until)
    floor = until - timedelta(hours=KEEP_HOURS)
    tenant = inp.tenant_id
    c = inp.cursors
    with sessions.begin() as s:
        audit, audit_more = _import_audit(s, tenant, c.audit, floor)
        inbox, inbox_more = _import_inbox(s, tenant, c.inbox, floor)
    with sessions() as s:
        rows, events, events_more = _new_events(s, tenant, c.events, floor)
        buckets = summarize(_counted(rows))
        guards = active_guards(s, tenant)
        window = _window(s, tenant, until, last_lifts(s, tenant))
        config = read_config(s, tenant)
    return ManagementBatch(
        cursors=Cursors(events=events, audit=audit, inbox=inbox),
        buckets=buckets,
        events=len(rows),
        more=audit_more or inbox_more or events_more,
        last_hour=window,
        guards=guards,
        config=config,
    )
