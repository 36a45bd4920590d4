"""Whether a customer accepts sales messages on a channel (per tenant).

Granted when they tick "email me offers" (or SMS) at checkout; withdrawn by the unsubscribe
link in a sales email, by STOP to the tenant's number (``sms_consent``, which also stops
support answers), or by an operator. A change older than the one stored is ignored, so a late
webhook never undoes a newer unsubscribe. Checked at the moment of sending.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from supportflow.channels import records
from supportflow.db.models import MarketingConsent

ConsentChannel = Literal["email", "sms"]


def set_consent(
    sessions: sessionmaker[Session],
    tenant_id: str,
    store_user_id: str,
    channel: ConsentChannel,
    *,
    granted: bool,
    source: str,
    at: datetime | None = None,
) -> bool:
    """Record consent given or withdrawn at ``at`` (default now); False when a newer change
    is already stored (nothing changes)."""
    when = (at or datetime.now(UTC)).astimezone(UTC)
    with sessions.begin() as s:
        row = s.get(MarketingConsent, (tenant_id, store_user_id, channel))
        if row is None:
            s.add(
                MarketingConsent(
                    tenant_id=tenant_id,
                    store_user_id=store_user_id,
                    channel=channel,
                    granted=granted,
                    source=source,
                    changed_at=when,
                )
            )
            return True
        stored = row.changed_at if row.changed_at.tzinfo else row.changed_at.replace(tzinfo=UTC)
        if stored > when:
            return False
        row.granted, row.source, row.changed_at = granted, source, when
        return True


def may_contact(
    sessions: sessionmaker[Session],
    tenant_id: str,
    store_user_id: str,
    channel: ConsentChannel,
    *,
    phone: str | None = None,
) -> bool:
    """True only with consent given and not withdrawn; for SMS, the number has not texted
    STOP either."""
    with sessions() as s:
        row = s.get(MarketingConsent, (tenant_id, store_user_id, channel))
        granted = row is not None and row.granted
    if not granted:
        return False
    if channel == "sms":
        return phone is not None and not records.sms_opted_out(sessions, tenant_id, phone)
    return True
