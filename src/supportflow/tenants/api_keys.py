"""A tenant's secret API keys: several may be valid at once, each can be revoked or expire.

A rotation issues a new key and gives the tenant's other valid keys ``grace`` to live, so the
merchant can roll the new one out before the old stops working; a revocation ends one key at
once (a leaked key). Authentication (``key_for``) reads the table on every request: a revoked
key stops working at the next request, on every API process.

Keys are random 256-bit tokens: a plain SHA-256 is a safe one-way store (``tenants/keys.py``);
the last four characters are kept so a person can tell keys apart.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import Tenant, TenantApiKey
from supportflow.tenants.keys import hash_key, new_api_key

# A longer grace would keep a leaked key alive for it; revoke ends one at once anyway.
MAX_GRACE = timedelta(days=30)


class UnknownTenant(LookupError):
    pass


class UnknownKey(LookupError):
    pass


@dataclass(frozen=True)
class IssuedKey:
    tenant_id: str
    key_id: str
    api_key: str  # shown once; only its hash is stored
    previous_keys_expire_at: datetime | None  # None: there were no other valid keys


@dataclass(frozen=True)
class KeyView:
    """What may be shown about a key: never the key or its hash."""

    key_id: str
    created_at: datetime
    last4: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    status: str  # "active" | "expiring" | "expired" | "revoked"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _valid(row: TenantApiKey, now: datetime) -> bool:
    expires = _aware(row.expires_at)
    return row.revoked_at is None and (expires is None or expires > now)


def add_key(s: Session, tenant_id: str, api_key: str, *, now: datetime | None = None) -> str:
    """Record a key for the tenant in the caller's transaction; returns its id."""
    key_id = "k_" + uuid.uuid4().hex[:16]
    s.add(
        TenantApiKey(
            id=key_id,
            tenant_id=tenant_id,
            key_hash=hash_key(api_key),
            last4=api_key[-4:],
            created_at=now or _now(),
        )
    )
    return key_id


def key_for(sessions: sessionmaker[Session], api_key: str) -> str | None:
    """The tenant whose valid (not revoked, not expired) key this is."""
    with sessions() as s:
        row = s.scalar(select(TenantApiKey).where(TenantApiKey.key_hash == hash_key(api_key)))
        if row is None or not _valid(row, _now()):
            return None
        return row.tenant_id


def rotate(sessions: sessionmaker[Session], tenant_id: str, grace: timedelta) -> IssuedKey:
    """Issue a new key; the tenant's other valid keys expire after ``grace`` (0: at once)."""
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise ValueError(f"the grace period must be between 0 and {MAX_GRACE.days * 24} hours")
    now = _now()
    until = now + grace
    api_key = new_api_key()
    with sessions.begin() as s:
        if s.get(Tenant, tenant_id) is None:
            raise UnknownTenant(f"no tenant {tenant_id}")
        others = [
            row
            for row in s.scalars(select(TenantApiKey).where(TenantApiKey.tenant_id == tenant_id))
            if _valid(row, now)
        ]
        for row in others:
            expires = _aware(row.expires_at)
            if expires is None or expires > until:  # never lengthen an earlier expiry
                row.expires_at = until
        key_id = add_key(s, tenant_id, api_key, now=now)
    return IssuedKey(tenant_id, key_id, api_key, until if others else None)


def revoke(sessions: sessionmaker[Session], tenant_id: str, key_id: str) -> KeyView:
    """End one key now. Idempotent: revoking a revoked key changes nothing."""
    with sessions.begin() as s:
        row = s.get(TenantApiKey, key_id)
        if row is None or row.tenant_id != tenant_id:
            raise UnknownKey(f"tenant {tenant_id} has no API key {key_id}")
        if row.revoked_at is None:
            row.revoked_at = _now()
        return _view(row, _now())


def list_keys(sessions: sessionmaker[Session], tenant_id: str) -> list[KeyView]:
    with sessions() as s:
        if s.get(Tenant, tenant_id) is None:
            raise UnknownTenant(f"no tenant {tenant_id}")
        rows = s.scalars(
            select(TenantApiKey)
            .where(TenantApiKey.tenant_id == tenant_id)
            .order_by(TenantApiKey.created_at, TenantApiKey.id)
        )
        now = _now()
        return [_view(row, now) for row in rows]


def _view(row: TenantApiKey, now: datetime) -> KeyView:
    expires = _aware(row.expires_at)
    if row.revoked_at is not None:
        status = "revoked"
    elif expires is not None and expires <= now:
        status = "expired"
    elif expires is not None:
        status = "expiring"
    else:
        status = "active"
    return KeyView(
        key_id=row.id,
        created_at=_aware(row.created_at) or now,
        last4=row.last4,
        expires_at=expires,
        revoked_at=_aware(row.revoked_at),
        status=status,
    )
