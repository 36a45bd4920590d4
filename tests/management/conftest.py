"""The app database migrated to head (SQLite, and Postgres when configured), and helpers to
write what agents leave behind: audit entries, inbox lines, agent events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportflow.audit.entry import ActorKind, NewEntry
from supportflow.audit.log import append
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.inbox.model import InboxItem, InboxReason
from supportflow.inbox.store import InboxStore
from supportflow.management.events import AgentEvent
from supportflow.management.record import record_agent_event

# The console's fixtures (API on loopback without Temporal, headless Chromium), for the
# Metrics page and the metrics API.
from tests.console.conftest import browser, console  # noqa: F401


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def refund_entry(
    sessions: sessionmaker[Session], tenant_id: str, key: str, amount: float | None
) -> None:
    """What ActionActivities appends once the store refunded (activities/audit_writes.py)."""
    details: dict[str, object] = {"payment_method_id": "credit_card_1", "status": "pending"}
    if amount is not None:
        details["amount"] = amount
    append(
        sessions,
        NewEntry(
            tenant_id=tenant_id,
            actor_kind=ActorKind.AGENT,
            actor_id=f"sf/{tenant_id}/customer/c_1",
            action="store.refund_order",
            target="#W1000001",
            details=details,
            workflow_id=f"sf/{tenant_id}/customer/c_1",
            idempotency_key=key,
        ),
    )


def event(
    sessions: sessionmaker[Session],
    tenant_id: str,
    key: str,
    kind: str,
    at: datetime,
    amount: str | None = None,
    **data: object,
) -> bool:
    return record_agent_event(
        sessions,
        AgentEvent.model_validate(
            {
                "tenant_id": tenant_id,
                "event_key": key,
                "kind": kind,
                "at": at,
                "amount": Decimal(amount) if amount is not None else None,
                "data": data,
            }
        ),
    )


def inbox_line(
    sessions: sessionmaker[Session],
    tenant_id: str,
    customer_id: str,
    *,
    version: int,
    reason: InboxReason | None,
    since: datetime | None,
    breaches: list[str] | None = None,
    detail: str | None = None,
) -> None:
    InboxStore(sessions).put(
        InboxItem(
            tenant_id=tenant_id,
            customer_id=customer_id,
            workflow_id=f"sf/{tenant_id}/customer/{customer_id}",
            version=version,
            reason=reason,
            since=since,
            detail=detail,
            sla_breaches=breaches or [],
        )
    )
