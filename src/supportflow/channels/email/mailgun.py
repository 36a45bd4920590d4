"""Mailgun's inbound route POST (a route's forward() action to our URL).

Signature (Mailgun, "Securing Webhooks"): the form carries ``timestamp`` (Unix seconds),
``token`` (50 random characters) and ``signature``, the hex HMAC-SHA256 of timestamp and
token concatenated, keyed with the domain's HTTP webhook signing key. We check it in
constant time, refuse timestamps outside the window, and the caller refuses a token seen
before (webhooks.reject_replay with provider "mailgun" and the token as nonce).

Two formats (Mailgun, "Receiving Messages via HTTP"): a route URL ending in ``mime``
gets the raw message in ``body-mime`` (with ``sender``, ``recipient``, ...), which we
parse like SMTP mail; any other URL gets Mailgun's parsed fields: ``sender`` (MAIL FROM),
``from``, ``recipient``, ``subject``, ``body-plain`` (always present; Mailgun makes one
from HTML-only mail), ``body-html``, ``stripped-text``, ``message-headers`` (all headers as
a JSON list of [name, value] pairs, in order), ``attachment-count`` and the files
``attachment-1``... Mailgun encodes these fields as UTF-8.

Of the parsed fields we use the headers (threading ids, loop headers), body-plain (else
body-html) and the files' names, types and sizes. The reply is cut by our own stripper
(reply.py), not Mailgun's ``stripped-text``, so mail reads the same whichever way it came.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Mapping

from supportflow.channels.email import headers
from supportflow.channels.email.parse import (
    AttachmentInfo,
    MailTooLarge,
    ParsedMail,
    build_mail,
    parse_mail,
    safe_filename,
)
from supportflow.channels.email.webhooks import WebhookRejected, check_timestamp, field_bytes

PROVIDER = "mailgun"
# Headers taken from top-level fields when ``message-headers`` is missing or unreadable.
_FALLBACK_HEADERS = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-Id",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "Precedence",
    "List-Id",
    "List-Unsubscribe",
    "X-Autoreply",
    "X-Autorespond",
    "X-Auto-Response-Suppress",
    "Return-Path",
    "Content-Type",
)
_MAX_HEADER_PAIRS = 1000
_MAX_FIELD_CHARS = 512  # timestamp, token, signature


def verify_mailgun(
    signing_key: str,
    timestamp: str,
    token: str,
    signature: str,
    *,
    now: float,
    max_age_seconds: float = 300,
) -> None:
    """Raise WebhookRejected unless ``signature`` is Mailgun's for ``timestamp`` and
    ``token`` under ``signing_key`` and the timestamp is fresh. ValueError for an empty
    key (the tenant's configuration, not the request, is wrong)."""
    if not signing_key:
        raise ValueError("no Mailgun signing key configured")
    if not timestamp or not token or not signature:
        raise WebhookRejected("missing_signature")
    if max(len(timestamp), len(token), len(signature)) > _MAX_FIELD_CHARS:
        raise WebhookRejected("bad_signature")
    check_timestamp(timestamp, now=now, max_age_seconds=max_age_seconds)
    expected = hmac.new(
        signing_key.encode("utf-8"), (timestamp + token).encode("utf-8", "replace"), hashlib.sha256
    ).hexdigest()
    given = signature.strip().lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected.encode("ascii"), given):
        raise WebhookRejected("bad_signature")


def sign_mailgun(signing_key: str, timestamp: str, token: str) -> str:
    """Mailgun's signature for ``timestamp`` and ``token`` (for tests and local tools)."""
    return hmac.new(
        signing_key.encode("utf-8"), (timestamp + token).encode("utf-8"), hashlib.sha256
    ).hexdigest()


def _text(form: Mapping[str, object], key: str) -> str | None:
    value = form.get(key)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _field(form: Mapping[str, object], name: str) -> str | None:
    """A form field by name, any case (Mailgun posts headers as fields too)."""
    found = _text(form, name)
    if found is not None:
        return found
    wanted = name.lower()
    for key in form:
        if key.lower() == wanted:
            return _text(form, key)
    return None


def raw_mime(form: Mapping[str, object]) -> bytes | None:
    """The raw message of a "raw MIME" route post, or None for a parsed-fields post (a
    text field back to bytes: webhooks.field_bytes)."""
    value = form.get("body-mime")
    return field_bytes(value) if isinstance(value, str | bytes) else None


def _header_pairs(form: Mapping[str, object]) -> list[tuple[str, str]]:
    posted = _field(form, "message-headers")
    if posted:
        try:
            pairs = json.loads(posted)
        except ValueError:
            pairs = None
        if isinstance(pairs, list):
            found = [
                (p[0], p[1])
                for p in pairs[:_MAX_HEADER_PAIRS]
                if isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
            ]
            if found:
                return found
    found = []
    for name in _FALLBACK_HEADERS:
        value = _field(form, name)
        if value:
            found.append((name, value))
    return found


def uploaded_attachments(form: Mapping[str, object]) -> list[AttachmentInfo]:
    """Files in a form (anything with ``filename``, like Starlette's UploadFile): their
    sanitised names, types and sizes."""
    found: list[AttachmentInfo] = []
    for value in form.values():
        if isinstance(value, str | bytes) or not hasattr(value, "filename"):
            continue
        content_type = str(getattr(value, "content_type", None) or "application/octet-stream")
        size = getattr(value, "size", None)
        found.append(
            AttachmentInfo(
                safe_filename(getattr(value, "filename", None), content_type),
                content_type.split(";", 1)[0].strip().lower(),
                size if isinstance(size, int) else 0,
            )
        )
    return found


def mailgun_form_to_mail(
    form: Mapping[str, object], *, max_bytes: int, ours: Collection[str] = ()
) -> ParsedMail:
    """The mail in a Mailgun route post, either format (module doc). Raises
    MailTooLarge / MalformedMail like parse_mail. ``form``: the posted fields (str or
    bytes) and files (UploadFile-like), e.g. Starlette's FormData."""
    sender = _field(form, "sender")
    raw = raw_mime(form)
    if raw is not None:
        return parse_mail(raw, max_bytes=max_bytes, envelope_sender=sender, ours=ours)
    size = sum(len(v) for v in form.values() if isinstance(v, str | bytes))
    if size > max_bytes:
        raise MailTooLarge(size, max_bytes)
    msg = headers.from_pairs(_header_pairs(form))
    plain = _field(form, "body-plain") or ""
    html = _field(form, "body-html") or ""
    return build_mail(
        msg,
        plain=[plain],
        html=[html],
        attachments=uploaded_attachments(form),
        envelope_sender=sender,
        ours=ours,
    )
