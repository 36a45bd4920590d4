"""What an audit entry needs about one change an operator service made (issue 12 item 6):
who acted, what they did, on what, and the facts — never a password, token or hash."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Change:
    tenant_id: str
    actor: str  # Principal.actor ("operator:op_...", "api_key") or "cli"
    action: str  # "operator.created", "operator.disabled", "operator.token_issued", ...
    target: str  # the operator, token or session it was done to
    details: dict[str, Any] = field(default_factory=dict)


def now() -> datetime:
    return datetime.now(UTC)


def aware(at: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def rowcount(result: object) -> int:
    """Rows an UPDATE touched (a CursorResult's count; typed loosely by SQLAlchemy)."""
    return int(getattr(result, "rowcount", 0) or 0)
