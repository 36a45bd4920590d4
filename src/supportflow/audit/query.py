"""Reading a tenant's trail: filtered pages (cursor = seq) and a full export.

Every query is scoped to one tenant; a filter that cannot be met (an unknown actor kind, a
time range that ends before it starts) is refused with ``InvalidFilter`` rather than
answered with nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.audit.entry import ActorKind, AuditEntry, utc
from supportflow.audit.log import entry_of
from supportflow.db.models import AuditLogRow

MAX_PAGE = 500
_ACTION_PREFIX = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.?$")
_EXPORT_BATCH = 500

Order = Literal["asc", "desc"]


class InvalidFilter(ValueError):
    pass


@dataclass(frozen=True)
class AuditFilter:
    actor_kind: str | None = None
    actor_id: str | None = None
    # Whole dotted segments: "store" and "store." match store.cancel_order, not storefront.x.
    action: str | None = None
    target: str | None = None
    workflow_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def checked(self) -> AuditFilter:
        if self.actor_kind is not None and self.actor_kind not in set(ActorKind):
            kinds = ", ".join(k.value for k in ActorKind)
            raise InvalidFilter(f"actor_kind must be one of {kinds}")
        if self.action is not None and not _ACTION_PREFIX.match(self.action):
            raise InvalidFilter(
                "action must be a dotted name or its prefix, like store or store.cancel_order"
            )
        try:
            since = utc(self.since) if self.since is not None else None
            until = utc(self.until) if self.until is not None else None
        except (OverflowError, ValueError) as err:
            raise InvalidFilter("since and until must be times between years 1 and 9999") from err
        if since is not None and until is not None and until <= since:
            raise InvalidFilter("until must be later than since")
        return dataclasses.replace(self, since=since, until=until)


@dataclass(frozen=True)
class Page:
    entries: list[AuditEntry]
    # Pass as ``after`` (asc) or ``before`` (desc) for the next page; None: no more.
    next_cursor: int | None


def _filtered(tenant_id: str, f: AuditFilter) -> Select[AuditLogRow]:
    q = select(AuditLogRow).where(AuditLogRow.tenant_id == tenant_id)
    if f.actor_kind is not None:
        q = q.where(AuditLogRow.actor_kind == f.actor_kind)
    if f.actor_id is not None:
        q = q.where(AuditLogRow.actor_id == f.actor_id)
    if f.action is not None:
        name = f.action.rstrip(".")
        q = q.where(
            or_(
                AuditLogRow.action == name,
                AuditLogRow.action.startswith(name + ".", autoescape=True),
            )
        )
    if f.target is not None:
        q = q.where(AuditLogRow.target == f.target)
    if f.workflow_id is not None:
        q = q.where(AuditLogRow.workflow_id == f.workflow_id)
    if f.since is not None:
        q = q.where(AuditLogRow.at >= f.since)
    if f.until is not None:
        q = q.where(AuditLogRow.at < f.until)
    return q


def page(
    sessions: sessionmaker[Session],
    tenant_id: str,
    f: AuditFilter,
    *,
    cursor: int | None = None,
    limit: int = 100,
    order: Order = "desc",
) -> Page:
    """One page of the tenant's entries matching ``f``: newest first by default; ``cursor``
    is the seq the previous page's ``next_cursor`` gave."""
    f = f.checked()
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidFilter(f"limit must be between 1 and {MAX_PAGE}")
    q = _filtered(tenant_id, f)
    if order == "desc":
        if cursor is not None:
            q = q.where(AuditLogRow.seq < cursor)
        q = q.order_by(AuditLogRow.seq.desc())
    else:
        if cursor is not None:
            q = q.where(AuditLogRow.seq > cursor)
        q = q.order_by(AuditLogRow.seq)
    with sessions() as s:
        rows = list(s.scalars(q.limit(limit + 1)))
    more = len(rows) > limit
    entries = [entry_of(r) for r in rows[:limit]]
    return Page(entries, entries[-1].seq if more else None)


def export(
    sessions: sessionmaker[Session], tenant_id: str, f: AuditFilter | None = None
) -> Iterator[AuditEntry]:
    """Every matching entry, oldest first, read in batches (short transactions) so a long
    trail never sits in memory or holds a read open."""
    f = (f or AuditFilter()).checked()
    after = 0
    while True:
        batch = page(sessions, tenant_id, f, cursor=after, limit=_EXPORT_BATCH, order="asc")
        yield from batch.entries
        if batch.next_cursor is None:
            return
        after = batch.next_cursor
