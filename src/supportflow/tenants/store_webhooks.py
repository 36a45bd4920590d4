"""The secret a tenant's store signs its webhooks with, sealed at rest (issue 14)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from supportflow.crypto.keyring import KeyRing
from supportflow.db.models import StoreWebhookSecret, Tenant


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def set_store_webhook_secret(
    sessions: sessionmaker[Session], keyring: KeyRing, tenant_id: str, secret: str
) -> None:
    if len(secret) < 16:
        raise ValueError("a webhook secret must be at least 16 characters")
    with sessions.begin() as s:
        if s.get(Tenant, tenant_id) is None:
            raise LookupError(f"no tenant {tenant_id!r}")
        row = s.get(StoreWebhookSecret, tenant_id)
        sealed = keyring.seal(secret)
        if row is None:
            s.add(StoreWebhookSecret(tenant_id=tenant_id, secret=sealed))
        else:
            row.secret, row.changed_at = sealed, datetime.now(UTC)


def store_webhook_secret(
    sessions: sessionmaker[Session], keyring: KeyRing, tenant_id: str
) -> str | None:
    """The opened secret, or None when the tenant has none (or does not exist)."""
    with sessions() as s:
        row = s.get(StoreWebhookSecret, tenant_id)
        return None if row is None else keyring.open_sealed(row.secret)
