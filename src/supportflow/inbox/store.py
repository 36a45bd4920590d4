"""The inbox table: one line per conversation that needs (or has) a person."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import InboxRow
from supportflow.inbox.model import InboxApproval, InboxItem, InboxReason
from supportflow.webhooks.outbox import PersonWait, enqueue_needs_person


@dataclass(frozen=True)
class InboxFilter:
    reason: InboxReason | None = None
    held_by: str | None = None
    unclaimed: bool = False
    channel: str | None = None
    # A customer id (or its start), a workflow id, an order id or an approval id.
    search: str | None = None
    limit: int = 100
    # Routing (issue 14): lines assigned to this operator id.
    assigned_to: str | None = None


class InboxStore:
    def __init__(
        self, sessions: sessionmaker[Session], *, on_event: Callable[[], None] | None = None
    ) -> None:
        self._sessions = sessions
        # Outbound webhooks (issue 16): told after a write that put events in the outbox (the
        # dispatcher in this process, if any, then sends them at once instead of at its poll).
        self._on_event = on_event

    def put(self, item: InboxItem) -> bool:
        """Store the workflow's latest view; False when a newer one is already stored (an
        activity retried late). A line nobody needs and nobody holds is removed. A new need
        for a person writes its ``conversation.needs_person`` webhook event in the same
        transaction (supportflow/webhooks/outbox.py)."""
        events = 0
        with self._sessions.begin() as s:
            row = s.get(InboxRow, (item.tenant_id, item.customer_id))
            if row is not None and row.version >= item.version:
                return False
            previous = PersonWait.of_row(row) if row is not None else None
            events = enqueue_needs_person(s, previous, item)
            self._put(s, row, item)
        if events and self._on_event is not None:
            self._on_event()
        return True

    @staticmethod
    def _put(s: Session, row: InboxRow | None, item: InboxItem) -> None:
        if item.reason is None and item.held_by is None:
            if row is not None:
                s.execute(
                    delete(InboxRow).where(
                        InboxRow.tenant_id == item.tenant_id,
                        InboxRow.customer_id == item.customer_id,
                    )
                )
            return
        if row is None:
            row = InboxRow(tenant_id=item.tenant_id, customer_id=item.customer_id)
            s.add(row)
        elif item.reason is None or _aware(row.since) != item.since:
            # Routing (issue 14): the wait it was assigned or escalated for is over.
            clear_routing(row)
        _fill(row, item)

    def list(self, tenant_id: str, f: InboxFilter | None = None) -> list[InboxItem]:
        f = f or InboxFilter()
        q = select(InboxRow).where(InboxRow.tenant_id == tenant_id)
        if f.reason == "sla":
            q = q.where(InboxRow.sla_breaches != "[]")
        elif f.reason is not None:
            q = q.where(InboxRow.reason == f.reason)
        if f.held_by is not None:
            q = q.where(InboxRow.held_by == f.held_by)
        if f.unclaimed:
            q = q.where(InboxRow.held_by.is_(None))
        if f.assigned_to is not None:
            q = q.where(InboxRow.assigned_to == f.assigned_to)
        if f.channel is not None:
            q = q.where(InboxRow.channel == f.channel)
        if f.search:
            like = f.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            q = q.where(
                InboxRow.customer_id.like(like, escape="\\")
                | (InboxRow.workflow_id == f.search)
                | (InboxRow.order_id == f.search)
                | (InboxRow.approval_id == f.search)
            )
        q = q.order_by(InboxRow.since.asc().nulls_last()).limit(max(1, min(f.limit, 500)))
        with self._sessions() as s:
            return [_item(r) for r in s.scalars(q)]

    def get(self, tenant_id: str, customer_id: str) -> InboxItem | None:
        with self._sessions() as s:
            row = s.get(InboxRow, (tenant_id, customer_id))
            return _item(row) if row is not None else None

    def by_approval(self, tenant_id: str, approval_id: str) -> InboxItem | None:
        with self._sessions() as s:
            row = s.scalars(
                select(InboxRow).where(
                    InboxRow.tenant_id == tenant_id, InboxRow.approval_id == approval_id
                )
            ).first()
            return _item(row) if row is not None else None


def _fill(row: InboxRow, item: InboxItem) -> None:
    a = item.approval
    row.workflow_id = item.workflow_id
    row.version = item.version
    row.reason = item.reason
    row.since = item.since
    row.detail = item.detail
    row.held_by = item.held_by
    row.channel = item.channel
    row.approval_id = a.approval_id if a is not None else None
    row.order_id = a.order_id if a is not None else None
    row.approval = a.model_dump_json() if a is not None else None
    row.sla_breaches = json.dumps(sorted(set(item.sla_breaches)))
    row.updated_at = datetime.now(UTC)


def clear_routing(row: InboxRow) -> None:
    """Forget the assignment and escalation of the wait that ended (issue 14 routing)."""
    row.assigned_to = None
    row.assigned_at = None
    row.routed_to = "[]"
    row.escalated_at = None
    row.routing_poll = None


def _item(row: InboxRow) -> InboxItem:
    return InboxItem(
        tenant_id=row.tenant_id,
        customer_id=row.customer_id,
        workflow_id=row.workflow_id,
        version=row.version,
        reason=row.reason,
        since=_aware(row.since),
        detail=row.detail,
        held_by=row.held_by,
        channel=row.channel,
        approval=InboxApproval.model_validate_json(row.approval) if row.approval else None,
        sla_breaches=json.loads(row.sla_breaches or "[]"),
        updated_at=_aware(row.updated_at),
        assigned_to=row.assigned_to,
        assigned_at=_aware(row.assigned_at),
        escalated_at=_aware(row.escalated_at),
    )


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns: they were stored in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
