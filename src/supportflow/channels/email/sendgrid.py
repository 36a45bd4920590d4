"""SendGrid Inbound Parse: its multipart form, and its signed-webhook option.

Form (SendGrid, "Setting up the Inbound Parse Webhook"): by default ``headers`` (the raw
header block), ``text``, ``html``, ``from``, ``to``, ``cc``, ``subject``, ``envelope``
(JSON: ``{"to": [...], "from": "..."}``, the SMTP envelope), ``charsets`` (JSON: the
charset of each field, e.g. ``{"text": "iso-8859-1", ...}``; SendGrid posts each field in
the mail's own charset), ``attachments`` (a count), ``attachment-info`` and the files
``attachment1``...; with "POST the raw, full MIME message" on, ``email`` carries the raw
message instead, which we parse like SMTP mail.

A field in a charset other than UTF-8 reaches a framework that decodes form fields as
UTF-8 and falls back to Latin-1 (Starlette does): such a value is turned back into its
bytes (Latin-1 is reversible) and decoded with the declared charset. Bytes values are
decoded directly.

Signature (SendGrid's webhook security policies, the scheme of its signed Event Webhook):
ECDSA over P-256 with SHA-256 of the ``X-Twilio-Email-Event-Webhook-Timestamp`` header
followed by the raw request body, base64 (DER) in ``X-Twilio-Email-Event-Webhook-Signature``,
verified with the policy's public key (base64 DER SubjectPublicKeyInfo as SendGrid shows
it, or PEM). Stale timestamps are refused; SendGrid posts no one-time token, so the caller
refuses a signature seen before (webhooks.reject_replay with the signature as nonce).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from supportflow.channels.email import headers
from supportflow.channels.email.charsets import codec_for, decode_bytes
from supportflow.channels.email.mailgun import uploaded_attachments
from supportflow.channels.email.parse import (
    MailTooLarge,
    ParsedMail,
    build_mail,
    parse_mail,
)
from supportflow.channels.email.webhooks import WebhookRejected, check_timestamp, field_bytes

PROVIDER = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
_MAX_SIGNATURE_CHARS = 512


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """A SendGrid verification key: PEM, or base64 of the DER SubjectPublicKeyInfo. Raises
    ValueError for anything that is not a P-256 public key (check it when the tenant's
    key is saved)."""
    data = text.strip()
    try:
        if data.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(data.encode("ascii"))
        else:
            key = serialization.load_der_public_key(base64.b64decode(data, validate=True))
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError) as err:
        raise ValueError("not a PEM or base64 DER public key") from err
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("SendGrid keys are ECDSA P-256 public keys")
    return key


def verify_sendgrid(
    public_key: str | ec.EllipticCurvePublicKey,
    timestamp: str,
    signature: str,
    body: bytes,
    *,
    now: float,
    max_age_seconds: float = 300,
) -> None:
    """Raise WebhookRejected unless ``signature`` (the signature header) is SendGrid's
    over ``timestamp`` (the timestamp header) and the raw ``body``, and the timestamp is
    fresh. ValueError for a public key that is no P-256 key (configuration)."""
    key = public_key if isinstance(public_key, ec.EllipticCurvePublicKey) else None
    if key is None:
        key = load_public_key(str(public_key))
    if not timestamp or not signature:
        raise WebhookRejected("missing_signature")
    if len(signature) > _MAX_SIGNATURE_CHARS:
        raise WebhookRejected("bad_signature")
    check_timestamp(timestamp, now=now, max_age_seconds=max_age_seconds)
    try:
        der = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise WebhookRejected("bad_signature") from err
    try:
        key.verify(der, timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as err:
        raise WebhookRejected("bad_signature") from err


def sign_sendgrid(private_key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """The signature header SendGrid would send (for tests and local tools)."""
    der = private_key.sign(timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode("ascii")


def _json(form: Mapping[str, object], key: str) -> object:
    value = form.get(key)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _charsets(form: Mapping[str, object]) -> dict[str, str]:
    found = _json(form, "charsets")
    if not isinstance(found, dict):
        return {}
    return {str(k): v for k, v in found.items() if isinstance(v, str)}


def _field(form: Mapping[str, object], key: str, charsets: Mapping[str, str]) -> str | None:
    value = form.get(key)
    charset = charsets.get(key)
    if isinstance(value, bytes):
        return decode_bytes(value, charset)
    if not isinstance(value, str):
        return None
    if codec_for(charset) in (None, "utf-8"):
        return value
    try:
        original = value.encode("latin-1")  # the bytes, if the framework fell back to Latin-1
    except UnicodeEncodeError:
        return value  # it was decoded as UTF-8 already
    return decode_bytes(original, charset)


def raw_mime(form: Mapping[str, object]) -> bytes | None:
    """The raw message when "POST the raw, full MIME message" is on, else None (a text
    field back to bytes: webhooks.field_bytes)."""
    value = form.get("email")
    return field_bytes(value) if isinstance(value, str | bytes) else None


def envelope_sender(form: Mapping[str, object]) -> str | None:
    envelope = _json(form, "envelope")
    sender = envelope.get("from") if isinstance(envelope, dict) else None
    return sender if isinstance(sender, str) else None


def sendgrid_form_to_mail(
    form: Mapping[str, object], *, max_bytes: int, ours: Collection[str] = ()
) -> ParsedMail:
    """The mail in an Inbound Parse post, either mode (module doc). Raises MailTooLarge /
    MalformedMail like parse_mail. ``form``: the posted fields (str or bytes) and files
    (UploadFile-like), e.g. Starlette's FormData."""
    sender = envelope_sender(form)
    raw = raw_mime(form)
    if raw is not None:
        return parse_mail(raw, max_bytes=max_bytes, envelope_sender=sender, ours=ours)
    size = sum(len(v) for v in form.values() if isinstance(v, str | bytes))
    if size > max_bytes:
        raise MailTooLarge(size, max_bytes)
    charsets = _charsets(form)
    block = form.get("headers")
    if isinstance(block, str | bytes) and block.strip():
        msg = headers.from_block(block)
    else:
        pairs = [
            (name, value)
            for name, key in (("From", "from"), ("To", "to"), ("Cc", "cc"), ("Subject", "subject"))
            if (value := _field(form, key, charsets))
        ]
        msg = headers.from_pairs(pairs)
    return build_mail(
        msg,
        plain=[_field(form, "text", charsets) or ""],
        html=[_field(form, "html", charsets) or ""],
        attachments=uploaded_attachments(form),
        envelope_sender=sender,
        ours=ours,
    )
