"""The webhook outbox: events are written in the transaction of the change they report, and
read back by the dispatcher, one pending row per customer at a time (their order kept)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from supportflow.demo_store import db
from supportflow.demo_store.db import read_transaction, write_transaction
from supportflow.demo_store.repository import StoreRepository, utc_now
from supportflow.outbox_delivery import Attempt as Attempt  # re-exported: one POST's outcome

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
_T = db.webhook_outbox


@dataclass(frozen=True)
class OutboxRow:
    id: int
    webhook_id: str
    event_id: str
    topic: str
    body: str
    created_at: str
    attempts: int


def customer_key(user_id: str) -> str:
    return f"customer:{user_id}"


def enqueue(repo: StoreRepository, topic: str, user_id: str, payload: dict[str, Any]) -> bool:
    """Put one webhook in the outbox in ``repo``'s transaction; a no-op (False) when the
    store sends no webhooks. Webhook and event ids are fixed here, so retries keep them."""
    if not repo.emit_webhooks:
        return False
    repo.conn.execute(
        insert(_T).values(
            webhook_id=str(uuid.uuid4()),
            event_id=str(uuid.uuid4()),
            topic=topic,
            entity_key=customer_key(user_id),
            body=json.dumps(payload, separators=(",", ":")),
            created_at=utc_now(),
            status=PENDING,
            attempts=0,
            next_attempt_ts=time.time(),
        )
    )
    return True


def _heads() -> Any:
    """Id of the oldest pending row of each entity: the only row of it that may be sent."""
    return select(func.min(_T.c.id)).where(_T.c.status == PENDING).group_by(_T.c.entity_key)


def due(engine: Engine, now: float, busy: Collection[int], limit: int) -> list[OutboxRow]:
    """Heads whose next attempt is due, oldest first, except rows being sent (``busy``)."""
    stmt = (
        select(_T)
        .where(_T.c.id.in_(_heads()), _T.c.next_attempt_ts <= now, _T.c.id.not_in(list(busy)))
        .order_by(_T.c.id)
        .limit(limit)
    )
    with read_transaction(engine) as conn:
        return [
            OutboxRow(r.id, r.webhook_id, r.event_id, r.topic, r.body, r.created_at, r.attempts)
            for r in conn.execute(stmt)
        ]


def next_due_ts(engine: Engine, busy: Collection[int]) -> float | None:
    """When the next head not being sent falls due (None: nothing pending)."""
    stmt = select(func.min(_T.c.next_attempt_ts)).where(
        _T.c.id.in_(_heads()), _T.c.id.not_in(list(busy))
    )
    with read_transaction(engine) as conn:
        value = conn.execute(stmt).scalar_one_or_none()
    return float(value) if value is not None else None


def record_attempt(
    engine: Engine, row_id: int, attempt: Attempt, *, max_attempts: int, backoff_s: float
) -> str:
    """Count the attempt: delivered, given up after ``max_attempts``, or retried after
    ``backoff_s``. Returns the row's new status."""
    with write_transaction(engine) as conn:
        attempts = int(conn.execute(select(_T.c.attempts).where(_T.c.id == row_id)).scalar_one())
        attempts += 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": attempt.status_code,
            "last_error": attempt.error,
        }
        if attempt.ok:
            values.update(status=DELIVERED, finished_at=utc_now())
        elif attempts >= max_attempts:
            values.update(status=FAILED, finished_at=utc_now())
        else:
            values.update(next_attempt_ts=time.time() + backoff_s)
        conn.execute(update(_T).where(_T.c.id == row_id).values(**values))
        return str(values.get("status", PENDING))


def list_deliveries(
    conn: Connection, *, topic: str | None, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """Outbox rows, oldest first, with the payload parsed (for /admin/webhooks)."""
    stmt = select(_T).order_by(_T.c.id).limit(limit)
    if topic is not None:
        stmt = stmt.where(_T.c.topic == topic)
    if status is not None:
        stmt = stmt.where(_T.c.status == status)
    return [
        {
            "id": r.id,
            "webhook_id": r.webhook_id,
            "event_id": r.event_id,
            "topic": r.topic,
            "entity_key": r.entity_key,
            "status": r.status,
            "attempts": r.attempts,
            "last_status_code": r.last_status_code,
            "last_error": r.last_error,
            "created_at": r.created_at,
            "finished_at": r.finished_at,
            "payload": json.loads(r.body),
        }
        for r in conn.execute(stmt)
    ]
