"""The unsubscribe link in a sales email: a token naming the tenant's customer and channel,
keyed with a per-tenant value nobody outside has seen, so a link cannot be forged for
another customer. Opening it withdraws that consent (RFC 8058 one-click POST, or a GET that
shows a confirmation button)."""

from __future__ import annotations

import base64
import hashlib
import hmac

_SEP = "."


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, tenant_id: str, store_user_id: str, channel: str) -> str:
    msg = f"unsubscribe:{tenant_id}:{store_user_id}:{channel}".encode()
    return _b64(hmac.new(secret, msg, hashlib.sha256).digest()[:18])


def make_token(secret: bytes, tenant_id: str, store_user_id: str, channel: str) -> str:
    return _SEP.join(
        (_b64(store_user_id.encode()), channel, _mac(secret, tenant_id, store_user_id, channel))
    )


def read_token(secret: bytes, tenant_id: str, token: str) -> tuple[str, str] | None:
    """(store user id, channel), or None for a token that is not ours for this tenant."""
    parts = token.split(_SEP)
    if len(parts) != 3 or parts[1] not in ("email", "sms") or len(token) > 300:
        return None
    try:
        user = _unb64(parts[0]).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    expected = _mac(secret, tenant_id, user, parts[1])
    if not hmac.compare_digest(expected, parts[2]):
        return None
    return user, parts[1]
