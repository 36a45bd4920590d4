"""Sales touches and the orders attributed to them (the conversion record).

A touch is written when an opportunity is assigned (its arm, in an experiment) and updated
when its message goes out or is held back; an order placed by the customer within the
tenant's attribution window after a touch converts the latest such touch, once per order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import SalesConversion, SalesTouch
from supportflow.management.events import AgentEvent
from supportflow.management.record import record_agent_event

_SAFE_ID = re.compile(r"^[A-Za-z0-9_#:.+\-/]{1,100}$")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def open_touch(
    sessions: sessionmaker[Session],
    *,
    touch_id: str,
    tenant_id: str,
    store_user_id: str,
    kind: str,
    subject_id: str,
    workflow_id: str,
    at: datetime,
    experiment_id: str | None,
    arm: str | None,
    status: str = "assigned",
) -> None:
    """Write the touch once (a retried activity finds it there and changes nothing)."""
    with sessions.begin() as s:
        if s.get(SalesTouch, touch_id) is not None:
            return
        s.add(
            SalesTouch(
                touch_id=touch_id,
                tenant_id=tenant_id,
                store_user_id=store_user_id,
                kind=kind,
                subject_id=subject_id,
                experiment_id=experiment_id,
                arm=arm,
                status=status,
                workflow_id=workflow_id,
                at=at,
            )
        )


def close_touch(
    sessions: sessionmaker[Session],
    touch_id: str,
    *,
    status: str,
    channel: str | None = None,
    discount_code: str | None = None,
    sent_at: datetime | None = None,
) -> None:
    with sessions.begin() as s:
        row = s.get(SalesTouch, touch_id)
        if row is None:
            return
        row.status = status[:40]
        row.channel = channel
        row.discount_code = discount_code
        row.sent_at = sent_at
        tenant_id, arm, experiment = row.tenant_id, row.arm, row.experiment_id
    if status == "sent" and sent_at is not None:
        # The management agent counts messages sent (once per touch).
        record_agent_event(
            sessions,
            AgentEvent(
                tenant_id=tenant_id,
                event_key=f"sales_touch:{touch_id}"[:200],
                kind="sales_touch",
                at=sent_at,
                data={"arm": arm, "experiment": experiment, "channel": channel},
            ),
        )


def settle_touch(sessions: sessionmaker[Session], touch_id: str, status: str) -> bool:
    """Set what became of a touch (a retention trial's "saved" or "cancelled"), keeping its
    channel, code and send time; False when there is no such touch."""
    with sessions.begin() as s:
        row = s.get(SalesTouch, touch_id)
        if row is None:
            return False
        row.status = status[:40]
        return True


def touch_status(sessions: sessionmaker[Session], touch_id: str) -> str | None:
    with sessions() as s:
        row = s.get(SalesTouch, touch_id)
        return None if row is None else row.status


def attribute_order(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    store_user_id: str,
    order_id: str,
    amount: Decimal,
    placed_at: datetime,
    window: timedelta,
    touch_id: str | None = None,
) -> str | None:
    """The touch this order converts, recorded once per order; None when no touch
    qualifies. ``touch_id``: the opportunity the order was placed from (its checkout's
    reminder), when known; otherwise the customer's latest touch that began within
    ``window`` before the order."""
    placed_at = _aware(placed_at)
    with sessions.begin() as s:
        known = s.get(SalesConversion, (tenant_id, order_id))
        if known is not None:
            return known.touch_id
        query = select(SalesTouch).where(
            SalesTouch.tenant_id == tenant_id,
            SalesTouch.store_user_id == store_user_id,
            SalesTouch.at <= placed_at,
            SalesTouch.at >= placed_at - window,
        )
        if touch_id is not None:
            query = query.where(SalesTouch.touch_id == touch_id)
        rows = s.scalars(query.order_by(SalesTouch.at.desc())).all()
        touch = next((t for t in rows if _aware(t.at) <= placed_at), None)
        if touch is None:
            return None
        s.add(
            SalesConversion(
                tenant_id=tenant_id,
                order_id=order_id,
                touch_id=touch.touch_id,
                amount=amount,
                placed_at=placed_at,
            )
        )
        try:
            s.flush()
        except IntegrityError:  # the same order attributed at the same moment elsewhere
            s.rollback()
            return None
        converted = touch.touch_id
    record_agent_event(
        sessions,
        AgentEvent(
            tenant_id=tenant_id,
            event_key=f"conversion:{order_id}"[:200],
            kind="conversion",
            at=placed_at,
            amount=amount,
            subject=converted[:100] if _SAFE_ID.match(converted[:100]) else None,
        ),
    )
    return converted
