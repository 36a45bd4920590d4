"""The signature on every delivery, in Stripe's style (docs/webhooks.md):

``Supportflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``

keyed with the endpoint's secret. The timestamp is signed with the body, so a delivery
replayed later fails the tolerance check; several ``v1=`` entries may appear (any may match).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Supportflow-Signature"
EVENT_ID_HEADER = "Supportflow-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookSignatureError(ValueError):
    """A delivery whose signature header is missing, malformed, stale or does not match."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Supportflow-Signature`` value for ``body`` sent at ``timestamp`` (now if None)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={sign(secret, body, t)}"


def verify(
    secret: str,
    body: bytes | str,
    header: str | None,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> int:
    """Check a delivery: ``body`` exactly as received (the raw bytes, before any JSON
    parsing), ``header`` the ``Supportflow-Signature`` value. Returns the signed timestamp;
    raises ``WebhookSignatureError`` for a missing, malformed, stale (more than ``tolerance``
    seconds away from ``now``) or non-matching signature."""
    if not secret:
        raise WebhookSignatureError("no webhook secret to verify with")
    if not header:
        raise WebhookSignatureError(f"no {SIGNATURE_HEADER} header")
    raw = body.encode("utf-8") if isinstance(body, str) else body
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookSignatureError(f"malformed {SIGNATURE_HEADER} header")
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise WebhookSignatureError(f"malformed {SIGNATURE_HEADER} header: bad t")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
        # Other schemes (a future v2) are ignored, as Stripe's clients do.
    if timestamp is None or not candidates:
        raise WebhookSignatureError(f"malformed {SIGNATURE_HEADER} header: needs t= and v1=")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookSignatureError("stale webhook: its timestamp is outside the tolerance")
    expected = sign(secret, raw, timestamp)
    # Every candidate is compared in constant time; any one matching is enough.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode("ascii"), candidate.encode("utf-8"))
    if not matched:
        raise WebhookSignatureError("webhook signature does not match")
    return timestamp
