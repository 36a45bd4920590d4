"""A tenant's email and SMS set-up: the support address and SMS number customers write to,
the provider credentials (sealed at rest), and finding a tenant by the address written to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.crypto.keyring import KeyRing
from supportflow.db.models import Tenant, TenantChannels


@dataclass(frozen=True)
class ChannelConfig:
    """A tenant's channels, secrets opened (only ever in memory)."""

    tenant_id: str
    store_name: str
    support_email: str | None = None
    mail_from: str | None = None
    mailgun_signing_key: str | None = None
    sendgrid_public_key: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    sms_number: str | None = None

    @property
    def reply_from(self) -> str | None:
        return self.mail_from or self.support_email


# Fields a caller may set; the two secrets are sealed before they are stored.
_SECRETS = ("mailgun_signing_key", "twilio_auth_token")
_FIELDS = (
    "support_email",
    "mail_from",
    "mailgun_signing_key",
    "sendgrid_public_key",
    "twilio_account_sid",
    "twilio_auth_token",
    "sms_number",
)


def configure_channels(
    sessions: sessionmaker[Session], keyring: KeyRing, tenant_id: str, **fields: str | None
) -> None:
    """Set some of a tenant's channel fields (None clears one). Addresses are stored lower
    case; an address or number another tenant uses fails with the database's IntegrityError."""
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown channel field(s): {', '.join(sorted(unknown))}")
    with sessions.begin() as s:
        row = s.get(TenantChannels, tenant_id)
        if row is None:
            row = TenantChannels(tenant_id=tenant_id)
            s.add(row)
        for name, value in fields.items():
            if value is not None and name in ("support_email", "mail_from"):
                value = value.strip().lower()
            if value is not None and name in _SECRETS:
                value = keyring.seal(value)
            setattr(row, name, value)


def channel_config(
    sessions: sessionmaker[Session], keyring: KeyRing, tenant_id: str
) -> ChannelConfig | None:
    with sessions() as s:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None:
            return None
        row = s.get(TenantChannels, tenant_id)
        if row is None:
            return ChannelConfig(tenant_id=tenant_id, store_name=tenant.name)

        def opened(sealed: str | None) -> str | None:
            return keyring.open_sealed(sealed) if sealed else None

        return ChannelConfig(
            tenant_id=tenant_id,
            store_name=tenant.name,
            support_email=row.support_email,
            mail_from=row.mail_from,
            mailgun_signing_key=opened(row.mailgun_signing_key),
            sendgrid_public_key=row.sendgrid_public_key,
            twilio_account_sid=row.twilio_account_sid,
            twilio_auth_token=opened(row.twilio_auth_token),
            sms_number=row.sms_number,
        )


def default_support_email(tenant_id: str, domain: str) -> str:
    """``support+<tenant id>@<domain>``: the address a new tenant is given."""
    return f"support+{tenant_id}@{domain}".lower()


def tenant_for_sms_number(sessions: sessionmaker[Session], number: str) -> str | None:
    with sessions() as s:
        return s.scalar(
            select(TenantChannels.tenant_id).where(TenantChannels.sms_number == number.strip())
        )


def tenant_for_support_email(sessions: sessionmaker[Session], address: str) -> str | None:
    """The tenant whose support address this is (case-insensitive), or None."""
    with sessions() as s:
        return s.scalar(
            select(TenantChannels.tenant_id).where(
                TenantChannels.support_email == address.strip().lower()
            )
        )


def support_email_of(sessions: sessionmaker[Session], tenant_id: str) -> str | None:
    with sessions() as s:
        row = s.get(TenantChannels, tenant_id)
        return row.support_email if row is not None else None


def support_addresses(sessions: sessionmaker[Session]) -> set[str]:
    """Every tenant's support and From address: mail from one of them is our own."""
    with sessions() as s:
        rows = s.execute(select(TenantChannels.support_email, TenantChannels.mail_from))
        return {a for row in rows for a in row if a}
