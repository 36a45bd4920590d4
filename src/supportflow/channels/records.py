"""What the channels remember in the app database: each email and SMS in and out by its
provider id (de-duplication, threading, delivery status), providers' one-time webhook tokens
(replays refused), and SMS numbers' STOP/START. Message text is never stored here.

Plain synchronous functions over a session factory: callers on an event loop run them in a
thread (run_in_threadpool / asyncio.to_thread).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import ChannelMessage, SmsConsent, WebhookNonce

# Webhook tokens older than this are forgotten (providers' timestamps are refused long before).
NONCE_KEEP = timedelta(days=2)


def _now() -> datetime:
    return datetime.now(UTC)


def record_message(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    channel: str,
    direction: str,
    external_id: str,
    status: str,
    customer_id: str | None = None,
    address: str | None = None,
    provider_id: str | None = None,
) -> bool:
    """Record one message; False (and nothing changed) if it was recorded before."""
    try:
        with sessions.begin() as s:
            s.add(
                ChannelMessage(
                    tenant_id=tenant_id,
                    channel=channel,
                    direction=direction,
                    external_id=external_id[:250],
                    status=status[:40],
                    customer_id=customer_id,
                    address=address,
                    provider_id=provider_id,
                )
            )
    except IntegrityError:
        return False
    return True


def message_status(
    sessions: sessionmaker[Session], tenant_id: str, channel: str, direction: str, external_id: str
) -> str | None:
    """The recorded status of one message, or None when it was never recorded."""
    with sessions() as s:
        return s.scalar(
            select(ChannelMessage.status).where(
                ChannelMessage.tenant_id == tenant_id,
                ChannelMessage.channel == channel,
                ChannelMessage.direction == direction,
                ChannelMessage.external_id == external_id[:250],
            )
        )


def inbound_sender(
    sessions: sessionmaker[Session], tenant_id: str, channel: str, external_id: str
) -> tuple[str | None, str | None] | None:
    """The customer and address an inbound message was delivered for, or None when it was
    never recorded."""
    with sessions() as s:
        row = s.execute(
            select(ChannelMessage.customer_id, ChannelMessage.address).where(
                ChannelMessage.tenant_id == tenant_id,
                ChannelMessage.channel == channel,
                ChannelMessage.direction == "in",
                ChannelMessage.external_id == external_id[:250],
            )
        ).first()
    return None if row is None else (row[0], row[1])


def replies_to_ours(
    sessions: sessionmaker[Session], tenant_id: str, address: str, ids: Iterable[str]
) -> bool:
    """Whether one of ``ids`` (In-Reply-To, References) is an email we sent to ``address``:
    only that mailbox has seen our Message-IDs (they are keyed with the tenant's secret), so
    a reply naming one proves the sender reads it."""
    wanted = [i[:250] for i in ids if i]
    if not wanted:
        return False
    with sessions() as s:
        found = s.scalar(
            select(ChannelMessage.id)
            .where(
                ChannelMessage.tenant_id == tenant_id,
                ChannelMessage.channel == "email",
                ChannelMessage.direction == "out",
                ChannelMessage.address == address.strip().lower(),
                ChannelMessage.external_id.in_(wanted),
            )
            .limit(1)
        )
    return found is not None


def set_delivery_status(
    sessions: sessionmaker[Session], tenant_id: str, provider_id: str, status: str
) -> bool:
    """A provider's delivery report for a message we sent; False when we sent no such one."""
    with sessions.begin() as s:
        done = s.execute(
            update(ChannelMessage)
            .where(
                ChannelMessage.tenant_id == tenant_id,
                ChannelMessage.provider_id == provider_id,
                ChannelMessage.direction == "out",
            )
            .values(status=status[:40], updated_at=_now())
        )
        return bool(getattr(done, "rowcount", 0))


def first_use(sessions: sessionmaker[Session], tenant_id: str, provider: str, nonce: str) -> bool:
    """True the first time a provider's one-time token is seen; False for a replay."""
    now = _now()
    try:
        with sessions.begin() as s:
            s.execute(delete(WebhookNonce).where(WebhookNonce.seen_at < now - NONCE_KEEP))
            s.add(
                WebhookNonce(tenant_id=tenant_id, provider=provider, nonce=nonce[:200], seen_at=now)
            )
    except IntegrityError:
        return False
    return True


def set_sms_opt_out(
    sessions: sessionmaker[Session], tenant_id: str, phone: str, opted_out: bool
) -> None:
    with sessions.begin() as s:
        row = s.get(SmsConsent, (tenant_id, phone))
        if row is None:
            s.add(
                SmsConsent(tenant_id=tenant_id, phone=phone, opted_out=opted_out, changed_at=_now())
            )
        else:
            row.opted_out, row.changed_at = opted_out, _now()


def sms_opted_out(sessions: sessionmaker[Session], tenant_id: str, phone: str) -> bool:
    with sessions() as s:
        row = s.get(SmsConsent, (tenant_id, phone))
        return row is not None and row.opted_out


def forget_nonce(
    sessions: sessionmaker[Session], tenant_id: str, provider: str, nonce: str
) -> None:
    """Let a token be used again: the delivery it signed failed on our side (the provider
    retries it, possibly with the same token)."""
    with sessions.begin() as s:
        s.execute(
            delete(WebhookNonce).where(
                WebhookNonce.tenant_id == tenant_id,
                WebhookNonce.provider == provider,
                WebhookNonce.nonce == nonce[:200],
            )
        )
