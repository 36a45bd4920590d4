"""What the email providers' webhooks share: a refusal with a reason, the timestamp
window, and one-time tokens (replays).

Callers check in this order: the signature and timestamp first (pure, cheap, no state),
then the one-time token, so forged requests never fill the token store.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime
from typing import Protocol

# How far ahead of our clock a provider's timestamp may be (clock skew).
FUTURE_SKEW_SECONDS = 60
_MAX_TIMESTAMP_DIGITS = 12


class WebhookRejected(Exception):
    """A webhook request that is not (or no longer) the provider's. ``reason`` is one of:
    missing_signature, malformed_timestamp, stale_timestamp, future_timestamp,
    bad_signature, replayed. Safe to log: it holds no secret and no message content."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_timestamp(timestamp: str, *, now: float, max_age_seconds: float) -> int:
    """A provider's Unix timestamp (seconds) within ``max_age_seconds`` before ``now``
    and at most FUTURE_SKEW_SECONDS after it; WebhookRejected otherwise."""
    text = timestamp.strip()
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_TIMESTAMP_DIGITS:
        raise WebhookRejected("malformed_timestamp")
    value = int(text)
    if now - value > max_age_seconds:
        raise WebhookRejected("stale_timestamp")
    if value - now > FUTURE_SKEW_SECONDS:
        raise WebhookRejected("future_timestamp")
    return value


class NonceStore(Protocol):
    """One-time webhook tokens, per tenant and provider (e.g. the app database's
    webhook_nonces table)."""

    async def first_use(self, tenant_id: str, provider: str, nonce: str, seen_at: datetime) -> bool:
        """True the first time ``nonce`` is seen; False for a replay."""
        ...


async def reject_replay(
    store: NonceStore, *, tenant_id: str, provider: str, nonce: str, seen_at: datetime
) -> None:
    """WebhookRejected("replayed") when ``nonce`` was used before. For Mailgun the nonce
    is the posted ``token``; SendGrid posts none, so use its signature (an ECDSA
    signature is new for every delivery; the same one again is a replay)."""
    if not await store.first_use(tenant_id, provider, nonce, seen_at):
        raise WebhookRejected("replayed")


class MemoryNonceStore:
    """A NonceStore in this process's memory, for tests and a single-process setup: it
    remembers the ``capacity`` newest tokens for ``keep_seconds`` of its own clock."""

    def __init__(self, keep_seconds: float = 2 * 86400, capacity: int = 100_000) -> None:
        self._keep = keep_seconds
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    async def first_use(self, tenant_id: str, provider: str, nonce: str, seen_at: datetime) -> bool:
        now = time.monotonic()
        while self._seen and next(iter(self._seen.values())) < now - self._keep:
            self._seen.popitem(last=False)
        key = (tenant_id, provider, nonce)
        if key in self._seen:
            return False
        self._seen[key] = now
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True


def field_bytes(value: str | bytes) -> bytes:
    """A form field's original bytes. Frameworks decode form fields as UTF-8 and fall
    back to Latin-1 (Starlette does), so a text value that Latin-1 can encode is encoded
    so: exact after the fallback, and for UTF-8 text of Latin-1 characters it gives their
    Latin-1 bytes, which charsets.decode_bytes still reads right (as Windows-1252). Any
    other text was UTF-8."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")
