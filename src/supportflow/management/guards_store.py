"""Guards in the app database: trip (once per kind while one is active), list, lift."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import PolicyGuardRow
from supportflow.management.batch import GuardView

MAX_LISTED = 200


class UnknownGuard(LookupError):
    """No such guard in this tenant."""


class AlreadyLifted(ValueError):
    """The guard was lifted before; nothing changed."""


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes: they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def view(row: PolicyGuardRow) -> GuardView:
    created = _aware(row.created_at)
    assert created is not None
    return GuardView(
        guard_id=row.guard_id,
        tenant_id=row.tenant_id,
        kind=row.kind,
        effect=row.effect,
        actions=list(row.actions or []),
        reason=row.reason,
        created_at=created,
        lifted_at=_aware(row.lifted_at),
        lifted_by=row.lifted_by,
    )


def active_guards(s: Session, tenant_id: str) -> list[GuardView]:
    rows = s.scalars(
        select(PolicyGuardRow)
        .where(PolicyGuardRow.tenant_id == tenant_id, PolicyGuardRow.lifted_at.is_(None))
        .order_by(PolicyGuardRow.created_at)
    )
    return [view(r) for r in rows]


def last_lifts(s: Session, tenant_id: str) -> dict[str, datetime]:
    """When each kind's guard was last lifted."""
    rows = s.execute(
        select(PolicyGuardRow.kind, func.max(PolicyGuardRow.lifted_at))
        .where(PolicyGuardRow.tenant_id == tenant_id, PolicyGuardRow.lifted_at.is_not(None))
        .group_by(PolicyGuardRow.kind)
    ).all()
    out: dict[str, datetime] = {}
    for kind, at in rows:
        aware = _aware(at)
        if aware is not None:
            out[kind] = aware
    return out


def trip(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    guard_id: str,
    kind: str,
    effect: str,
    actions: list[str],
    reason: str,
) -> tuple[GuardView, bool]:
    """Insert the guard unless it exists (a retried activity) or one of its kind is active;
    the guard that stands and whether it is new."""
    with sessions.begin() as s:
        done = s.get(PolicyGuardRow, guard_id)
        if done is not None:
            return view(done), False
        standing = s.scalars(
            select(PolicyGuardRow).where(
                PolicyGuardRow.tenant_id == tenant_id,
                PolicyGuardRow.kind == kind,
                PolicyGuardRow.lifted_at.is_(None),
            )
        ).first()
        if standing is not None:
            return view(standing), False
        row = PolicyGuardRow(
            guard_id=guard_id,
            tenant_id=tenant_id,
            kind=kind,
            effect=effect,
            actions=sorted(actions),
            reason=reason[:500],
            created_at=datetime.now(UTC),
        )
        s.add(row)
        s.flush()
        return view(row), True


def list_guards(
    sessions: sessionmaker[Session], tenant_id: str, *, limit: int = 50
) -> list[GuardView]:
    """Active guards first, then lifted ones, newest first."""
    with sessions() as s:
        rows = s.scalars(
            select(PolicyGuardRow)
            .where(PolicyGuardRow.tenant_id == tenant_id)
            .order_by(PolicyGuardRow.lifted_at.is_not(None), PolicyGuardRow.created_at.desc())
            .limit(max(1, min(limit, MAX_LISTED)))
        )
        return [view(r) for r in rows]


def lift(sessions: sessionmaker[Session], tenant_id: str, guard_id: str, by: str) -> GuardView:
    """Lift an active guard of this tenant (UnknownGuard, AlreadyLifted: nothing changed)."""
    with sessions.begin() as s:
        row = s.get(PolicyGuardRow, guard_id, with_for_update=True)
        if row is None or row.tenant_id != tenant_id:
            raise UnknownGuard(guard_id)
        if row.lifted_at is not None:
            raise AlreadyLifted(guard_id)
        row.lifted_at = datetime.now(UTC)
        row.lifted_by = by[:255]
        s.flush()
        return view(row)
