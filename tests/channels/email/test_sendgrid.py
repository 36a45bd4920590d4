"""SendGrid Inbound Parse: the signed-webhook option with a freshly generated P-256 key
(signed here as SendGrid signs: ECDSA/SHA-256 over timestamp + raw body, base64 DER), and
both post modes parsed from real multipart bodies by Starlette's form parser."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from supportflow.channels.email.parse import (
    AttachmentInfo,
    MailTooLarge,
    ParsedMail,
    parse_mail,
)
from supportflow.channels.email.sendgrid import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    load_public_key,
    sendgrid_form_to_mail,
    sign_sendgrid,
    verify_sendgrid,
)
from supportflow.channels.email.webhooks import MemoryNonceStore, WebhookRejected, reject_replay
from tests.channels.email.forms import multipart, parse_form

FIXTURES = Path(__file__).parent / "fixtures"
MAX = 10 * 1024 * 1024
TIMESTAMP = "1704826800"
NOW = float(TIMESTAMP) + 10


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_b64(private: ec.EllipticCurvePrivateKey) -> str:
    """The verification key as SendGrid's console shows it: base64 of the DER SPKI."""
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def public_pem(private: ec.EllipticCurvePrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sendgrid_sign(private: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """As SendGrid signs, written out here independently of the code under test."""
    der = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode()


def default_post() -> tuple[bytes, str]:
    headers = (
        "Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn\r\n"
        "From: =?iso-8859-1?q?Ren=E9e?= <renee@example.fr>\r\n"
        "To: support+demo@shop.test\r\n"
        "Subject: =?iso-8859-1?q?Commande_retard=E9e?=\r\n"
        "Message-ID: <sg-1@example.fr>\r\n"
        "In-Reply-To: <sf-out-1.demo@shop.test>\r\n"
        "References: <sf-out-1.demo@shop.test>\r\n"
        "Date: Tue, 9 Jan 2024 13:00:00 +0100\r\n"
        "Content-Type: multipart/mixed; boundary=abc\r\n"
    )
    fields = [
        ("headers", headers.encode()),
        ("dkim", b"{@example.fr : pass}"),
        ("to", b"support+demo@shop.test"),
        ("from", "Renée <renee@example.fr>".encode("latin-1")),
        ("subject", "Commande retardée".encode("latin-1")),
        # SendGrid posts text in the mail's own charset: here raw Latin-1 bytes
        (
            "text",
            "Où est mon colis ?\r\n\r\nLe 8 janv. 2024 à 10:12, Shop <support+demo@shop.test> "
            "a écrit :\r\n> Votre commande est partie.\r\n".encode("latin-1"),
        ),
        ("html", "<p>Où est mon colis ?</p>".encode("latin-1")),
        ("sender_ip", b"192.0.2.10"),
        (
            "envelope",
            json.dumps({"to": ["support+demo@shop.test"], "from": "renee@example.fr"}).encode(),
        ),
        ("attachments", b"1"),
        (
            "charsets",
            json.dumps(
                {
                    "to": "UTF-8",
                    "from": "iso-8859-1",
                    "subject": "iso-8859-1",
                    "text": "iso-8859-1",
                    "html": "iso-8859-1",
                }
            ).encode(),
        ),
        ("SPF", b"pass"),
    ]
    files = [("attachment1", "facture.pdf", "application/pdf", b"%PDF-1.4 " * 100)]
    return multipart(fields, files)


# -- signature -----------------------------------------------------------------------------


def test_signed_post_verifies_with_base64_der_and_pem_keys(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    body, _ = default_post()
    signature = sendgrid_sign(key, TIMESTAMP, body)
    verify_sendgrid(public_b64(key), TIMESTAMP, signature, body, now=NOW)
    verify_sendgrid(public_pem(key), TIMESTAMP, signature, body, now=NOW)
    verify_sendgrid(load_public_key(public_b64(key)), TIMESTAMP, signature, body, now=NOW)
    assert SIGNATURE_HEADER == "X-Twilio-Email-Event-Webhook-Signature"
    assert TIMESTAMP_HEADER == "X-Twilio-Email-Event-Webhook-Timestamp"


def test_sign_helper_matches_the_scheme(key: ec.EllipticCurvePrivateKey) -> None:
    body = b"payload"
    verify_sendgrid(public_b64(key), TIMESTAMP, sign_sendgrid(key, TIMESTAMP, body), body, now=NOW)


def test_forged_requests_are_rejected(key: ec.EllipticCurvePrivateKey) -> None:
    body, _ = default_post()
    good = sendgrid_sign(key, TIMESTAMP, body)
    other = ec.generate_private_key(ec.SECP256R1())
    forged = [
        (TIMESTAMP, good, body.replace(b"colis", b"COLIS")),  # body changed
        (str(int(TIMESTAMP) + 1), good, body),  # timestamp header changed
        (TIMESTAMP, sendgrid_sign(other, TIMESTAMP, body), body),  # someone else's key
        (TIMESTAMP, "not base64!", body),
        (TIMESTAMP, base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode(), body),
        (TIMESTAMP, base64.b64encode(b"garbage").decode(), body),
        (TIMESTAMP, "A" * 5000, body),
    ]
    for timestamp, signature, posted in forged:
        with pytest.raises(WebhookRejected) as caught:
            verify_sendgrid(public_b64(key), timestamp, signature, posted, now=NOW)
        assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("timestamp", "now", "reason"),
    [
        (TIMESTAMP, float(TIMESTAMP) + 301, "stale_timestamp"),
        (TIMESTAMP, float(TIMESTAMP) - 120, "future_timestamp"),
        ("soon", NOW, "malformed_timestamp"),
        ("", NOW, "missing_signature"),
    ],
)
def test_stale_or_missing_timestamps_are_rejected(
    key: ec.EllipticCurvePrivateKey, timestamp: str, now: float, reason: str
) -> None:
    body = b"x"
    signature = sendgrid_sign(key, timestamp or TIMESTAMP, body)
    with pytest.raises(WebhookRejected) as caught:
        verify_sendgrid(public_b64(key), timestamp, signature, body, now=now)
    assert caught.value.reason == reason


def test_missing_signature(key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(WebhookRejected) as caught:
        verify_sendgrid(public_b64(key), TIMESTAMP, "", b"x", now=NOW)
    assert caught.value.reason == "missing_signature"


def test_keys_that_are_not_p256_public_keys_are_refused() -> None:
    rsa_der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    p384 = public_b64(ec.generate_private_key(ec.SECP384R1()))
    for text in (base64.b64encode(rsa_der).decode(), p384, "not a key", "", "-----BEGIN x"):
        with pytest.raises(ValueError):
            load_public_key(text)
    with pytest.raises(ValueError):
        verify_sendgrid("not a key", TIMESTAMP, "sig", b"x", now=NOW)


async def test_replayed_signature_is_rejected(key: ec.EllipticCurvePrivateKey) -> None:
    body = b"x"
    signature = sendgrid_sign(key, TIMESTAMP, body)
    store = MemoryNonceStore()
    seen = datetime.fromtimestamp(NOW, UTC)
    verify_sendgrid(public_b64(key), TIMESTAMP, signature, body, now=NOW)
    await reject_replay(store, tenant_id="t", provider="sendgrid", nonce=signature, seen_at=seen)
    verify_sendgrid(public_b64(key), TIMESTAMP, signature, body, now=NOW + 1)
    with pytest.raises(WebhookRejected):
        await reject_replay(
            store, tenant_id="t", provider="sendgrid", nonce=signature, seen_at=seen
        )


# -- the posted mail -----------------------------------------------------------------------


async def test_default_post_with_latin1_fields(key: ec.EllipticCurvePrivateKey) -> None:
    body, content_type = default_post()
    verify_sendgrid(public_b64(key), TIMESTAMP, sendgrid_sign(key, TIMESTAMP, body), body, now=NOW)
    async with parse_form(body, content_type) as form:
        mail = sendgrid_form_to_mail(form, max_bytes=MAX)
    assert mail.from_address == "renee@example.fr" and mail.from_name == "Renée"
    assert mail.subject == "Commande retardée"
    assert mail.message_id == "<sg-1@example.fr>"
    assert mail.in_reply_to == "<sf-out-1.demo@shop.test>"
    assert mail.text.startswith("Où est mon colis ?")
    assert mail.reply_text == "Où est mon colis ?"
    assert mail.attachments == [AttachmentInfo("facture.pdf", "application/pdf", 900)]
    assert mail.auto is None


async def test_default_post_loop_headers_and_envelope() -> None:
    fields = [
        (
            "headers",
            b"From: Kim <kim@corp.example>\nSubject: Out of office\nAuto-Submitted: auto-replied\n",
        ),
        ("text", b"I am away."),
        ("envelope", b'{"to": ["support+demo@shop.test"], "from": "kim@corp.example"}'),
    ]
    async with parse_form(*multipart(fields)) as form:
        assert sendgrid_form_to_mail(form, max_bytes=MAX).auto == "auto_submitted"
    fields[0] = ("headers", b"From: a@example.com\nSubject: s\n")
    fields[2] = ("envelope", b'{"to": ["support+demo@shop.test"], "from": ""}')
    async with parse_form(*multipart(fields)) as form:
        assert sendgrid_form_to_mail(form, max_bytes=MAX).auto == "null_sender"


async def test_default_post_without_headers_block_and_html_only() -> None:
    fields = [
        ("from", b"Lena <lena@example.org>"),
        ("subject", b"Sizes"),
        ("html", b"<p>Does it run small?</p>"),
    ]
    async with parse_form(*multipart(fields)) as form:
        mail = sendgrid_form_to_mail(form, max_bytes=MAX)
    assert mail.from_address == "lena@example.org" and mail.subject == "Sizes"
    assert mail.text == "Does it run small?"


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("Shift_JIS", "注文番号 1044 の商品が届いていません。"),
        ("windows-1251", "Где мой заказ?"),
        ("iso-8859-15", "Prix : 20 € ?"),
        ("UTF-8", "Wo ist meine Bestellung? 📦"),
    ],
)
async def test_fields_in_the_mails_own_charset(charset: str, text: str) -> None:
    """SendGrid posts each field in the mail's charset; the framework decodes it as UTF-8
    or falls back to Latin-1, and the charsets field tells us how to get the text back."""
    fields = [
        ("from", b"Customer <c@example.com>"),
        ("subject", text.encode(charset)),
        ("text", text.encode(charset)),
        ("charsets", json.dumps({"subject": charset, "text": charset, "from": "UTF-8"}).encode()),
    ]
    async with parse_form(*multipart(fields)) as form:
        mail = sendgrid_form_to_mail(form, max_bytes=MAX)
    assert mail.text == text and mail.subject == text


@pytest.mark.parametrize(
    "name", ["latin1.eml", "shift_jis.eml", "outlook_reply.eml", "attachments.eml"]
)
async def test_raw_mode_parses_like_smtp_mail(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    fields = [
        ("email", raw),
        ("to", b"support+demo@shop.test"),
        ("envelope", b'{"to": ["support+demo@shop.test"], "from": "x@example.com"}'),
        ("charsets", b'{"to": "UTF-8", "subject": "UTF-8", "from": "UTF-8"}'),
    ]
    async with parse_form(*multipart(fields)) as form:
        mail: ParsedMail = sendgrid_form_to_mail(form, max_bytes=MAX)
    assert mail == parse_mail(raw, max_bytes=MAX)


async def test_too_large_posts() -> None:
    async with parse_form(*multipart([("text", b"x" * 5000)])) as form:
        with pytest.raises(MailTooLarge):
            sendgrid_form_to_mail(form, max_bytes=4096)
    raw = (FIXTURES / "gmail_reply.eml").read_bytes()
    async with parse_form(*multipart([("email", raw)])) as form:
        with pytest.raises(MailTooLarge):
            sendgrid_form_to_mail(form, max_bytes=100)
