"""A tenant's webhook endpoint: one URL, and the secret deliveries to it are signed with.

The secret is made here, shown once (when the endpoint is first set, and at each rotation)
and stored sealed with the app's key ring, like the tenants' other secrets.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from supportflow.crypto.keyring import KeyRing
from supportflow.db.models import Tenant, WebhookEndpointRow, WebhookOutboxRow

MAX_URL_LENGTH = 2048
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


class InvalidWebhookUrl(ValueError):
    """The URL is not one supportflow sends webhooks to; nothing was changed."""


class NoWebhookEndpoint(LookupError):
    """The tenant has no webhook endpoint."""


@dataclass(frozen=True)
class WebhookEndpoint:
    """What may be shown of an endpoint: never its secret."""

    tenant_id: str
    url: str
    created_at: datetime
    secret_changed_at: datetime

    def public_view(self) -> dict[str, str]:
        return {
            "tenant_id": self.tenant_id,
            "url": self.url,
            "created_at": _aware(self.created_at).isoformat(),
            "secret_changed_at": _aware(self.secret_changed_at).isoformat(),
        }


@dataclass(frozen=True)
class EndpointSet:
    endpoint: WebhookEndpoint
    # The signing secret when this call made it (a new endpoint), else None: shown once.
    secret: str | None


def new_signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def is_loopback_host(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_http: bool) -> str:
    """The URL if supportflow may send to it: https (or http to this machine's loopback,
    or anywhere when ``allow_http``), a host, no credentials, no fragment."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"a webhook URL must be 1-{MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise InvalidWebhookUrl("a webhook URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as err:
        raise InvalidWebhookUrl("not a valid URL") from err
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidWebhookUrl("a webhook URL must be http(s)://")
    if not host:
        raise InvalidWebhookUrl("a webhook URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("a webhook URL must not carry credentials (user:pass@)")
    if parts.fragment:
        raise InvalidWebhookUrl("a webhook URL must not have a #fragment")
    if scheme == "http" and not allow_http and not is_loopback_host(host):
        raise InvalidWebhookUrl(
            "a webhook URL must be https:// (plain http only to a loopback address)"
        )
    return url


def set_endpoint(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    tenant_id: str,
    url: str,
    *,
    allow_http: bool,
) -> EndpointSet:
    """Set the tenant's endpoint URL. A new endpoint gets a new secret (returned, shown once);
    changing the URL of an existing one keeps its secret (``rotate_secret`` makes a new one)."""
    url = check_url(url, allow_http=allow_http)
    with sessions.begin() as s:
        if s.get(Tenant, tenant_id) is None:
            raise LookupError(f"no tenant {tenant_id!r}")
        row = s.get(WebhookEndpointRow, tenant_id)
        secret = None
        if row is None:
            secret = new_signing_secret()
            now = datetime.now(UTC)
            row = WebhookEndpointRow(
                tenant_id=tenant_id,
                url=url,
                secret=keyring.seal(secret),
                created_at=now,
                secret_changed_at=now,
            )
            s.add(row)
        else:
            row.url = url
        s.flush()
        return EndpointSet(_view(row), secret)


def rotate_secret(sessions: sessionmaker[Session], keyring: KeyRing, tenant_id: str) -> str:
    """A new signing secret (returned, shown once), used from the next delivery on, retries
    of earlier events included; the old one stops at once."""
    secret = new_signing_secret()
    with sessions.begin() as s:
        row = s.get(WebhookEndpointRow, tenant_id)
        if row is None:
            raise NoWebhookEndpoint("this tenant has no webhook endpoint; set one first")
        row.secret, row.secret_changed_at = keyring.seal(secret), datetime.now(UTC)
    return secret


def get_endpoint(sessions: sessionmaker[Session], tenant_id: str) -> WebhookEndpoint | None:
    with sessions() as s:
        row = s.get(WebhookEndpointRow, tenant_id)
        return None if row is None else _view(row)


def delete_endpoint(sessions: sessionmaker[Session], tenant_id: str) -> bool:
    """Remove the endpoint; its events not yet delivered are given up (failed, "endpoint
    removed"), so a later endpoint never receives them. False when there was none."""
    with sessions.begin() as s:
        row = s.get(WebhookEndpointRow, tenant_id)
        if row is None:
            return False
        s.delete(row)
        s.execute(
            update(WebhookOutboxRow)
            .where(WebhookOutboxRow.tenant_id == tenant_id, WebhookOutboxRow.status == "pending")
            .values(status="failed", last_error="endpoint removed", finished_at=datetime.now(UTC))
        )
        return True


def delivery_target(
    sessions: sessionmaker[Session], keyring: KeyRing, tenant_id: str
) -> tuple[str, str] | None:
    """The URL and opened secret the dispatcher sends a tenant's events with (None: none)."""
    with sessions() as s:
        row = s.get(WebhookEndpointRow, tenant_id)
        return None if row is None else (row.url, keyring.open_sealed(row.secret))


def _view(row: WebhookEndpointRow) -> WebhookEndpoint:
    return WebhookEndpoint(row.tenant_id, row.url, row.created_at, row.secret_changed_at)


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns: they were stored in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
