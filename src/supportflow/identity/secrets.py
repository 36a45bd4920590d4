"""Each tenant's identity secret: created with the tenant, sealed at rest, rotatable with a
grace period during which tokens signed with the previous secret still verify."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from supportflow.crypto.keyring import KeyRing
from supportflow.db.models import Tenant

SECRET_PREFIX = "sf_idsec_"
DEFAULT_GRACE = timedelta(hours=24)


class UnknownTenant(LookupError):
    pass


def new_identity_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def set_identity_secret(tenant: Tenant, keyring: KeyRing, secret: str) -> None:
    tenant.identity_secret = keyring.seal(secret)


def rotate_identity_secret(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    tenant_id: str,
    *,
    grace: timedelta = DEFAULT_GRACE,
    now: datetime | None = None,
) -> str:
    """A new secret; the current one keeps verifying tokens for ``grace``."""
    now = now or datetime.now(UTC)
    fresh = new_identity_secret()
    with sessions.begin() as s:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None:
            raise UnknownTenant(tenant_id)
        tenant.identity_secret_previous = tenant.identity_secret
        tenant.identity_secret_previous_until = now + grace if tenant.identity_secret else None
        tenant.identity_secret = keyring.seal(fresh)
    return fresh


def identity_secrets(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    tenant_id: str,
    *,
    now: datetime | None = None,
) -> list[str]:
    """The secrets a token may be signed with right now: current first."""
    now = now or datetime.now(UTC)
    with sessions() as s:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None or tenant.identity_secret is None:
            return []
        found = [keyring.open_sealed(tenant.identity_secret)]
        until = tenant.identity_secret_previous_until
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=UTC)  # SQLite drops the zone
        if tenant.identity_secret_previous and until is not None and until > now:
            found.append(keyring.open_sealed(tenant.identity_secret_previous))
        return found
