"""Mailgun's inbound route POST: signatures as Mailgun computes them (documented: hex
HMAC-SHA256 of timestamp + token under the signing key), and both post formats parsed from
real multipart bodies by Starlette's form parser."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supportflow.channels.email.mailgun import (
    mailgun_form_to_mail,
    raw_mime,
    sign_mailgun,
    verify_mailgun,
)
from supportflow.channels.email.parse import AttachmentInfo, MailTooLarge, ParsedMail, parse_mail
from supportflow.channels.email.webhooks import (
    MemoryNonceStore,
    WebhookRejected,
    reject_replay,
)
from tests.channels.email.forms import multipart, parse_form

FIXTURES = Path(__file__).parent / "fixtures"
MAX = 10 * 1024 * 1024

# A vector computed outside Python: printf '%s' "$TIMESTAMP$TOKEN" |
#   openssl dgst -sha256 -hmac "$KEY"
KEY = "key-7f1c9e2b4a6d8f0e3c5b7a9d1f2e4c6b"
TIMESTAMP = "1704826800"
TOKEN = "a5f3c2e1d0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0"
SIGNATURE = "2f8e13c3a58bd0213a5124810aff9d43010fe2face00fb63b5978eb0b864c709"
NOW = float(TIMESTAMP) + 20


def mailgun_signature(key: str, timestamp: str, token: str) -> str:
    """As Mailgun documents it, written out here independently of the code under test."""
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def test_documented_vector_verifies() -> None:
    assert mailgun_signature(KEY, TIMESTAMP, TOKEN) == SIGNATURE
    assert sign_mailgun(KEY, TIMESTAMP, TOKEN) == SIGNATURE
    verify_mailgun(KEY, TIMESTAMP, TOKEN, SIGNATURE, now=NOW)
    verify_mailgun(KEY, TIMESTAMP, TOKEN, SIGNATURE.upper(), now=NOW)


def test_fresh_random_signatures_verify() -> None:
    for _ in range(20):
        key = "key-" + secrets.token_hex(16)
        token = secrets.token_hex(25)
        verify_mailgun(key, TIMESTAMP, token, mailgun_signature(key, TIMESTAMP, token), now=NOW)


@pytest.mark.parametrize(
    ("key", "timestamp", "token", "signature"),
    [
        ("key-wrong", TIMESTAMP, TOKEN, SIGNATURE),
        (KEY, TIMESTAMP, TOKEN[:-1] + "b", SIGNATURE),
        (KEY, str(int(TIMESTAMP) + 1), TOKEN, SIGNATURE),
        (KEY, TIMESTAMP, TOKEN, SIGNATURE[:-2]),
        (KEY, TIMESTAMP, TOKEN, "0" * 64),
        (KEY, TIMESTAMP, TOKEN, "zz" + SIGNATURE[2:]),
        (KEY, TIMESTAMP, TOKEN, "é" * 64),
        (KEY, TIMESTAMP, TOKEN, "a" * 10_000),
        # the pieces moved between timestamp and token sign the same string: still the
        # same signature, which is Mailgun's scheme; a changed timestamp is caught above
    ],
)
def test_forged_signatures_are_rejected(
    key: str, timestamp: str, token: str, signature: str
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        verify_mailgun(key, timestamp, token, signature, now=NOW)
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (float(TIMESTAMP) + 301, "stale_timestamp"),
        (float(TIMESTAMP) + 86_400, "stale_timestamp"),
        (float(TIMESTAMP) - 61, "future_timestamp"),
    ],
)
def test_stale_and_future_timestamps_are_rejected(now: float, reason: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        verify_mailgun(KEY, TIMESTAMP, TOKEN, SIGNATURE, now=now)
    assert caught.value.reason == reason


def test_window_edges_pass() -> None:
    verify_mailgun(KEY, TIMESTAMP, TOKEN, SIGNATURE, now=float(TIMESTAMP) + 299)
    verify_mailgun(KEY, TIMESTAMP, TOKEN, SIGNATURE, now=float(TIMESTAMP) - 59)


@pytest.mark.parametrize(
    ("timestamp", "token", "signature", "reason"),
    [
        ("", TOKEN, SIGNATURE, "missing_signature"),
        (TIMESTAMP, "", SIGNATURE, "missing_signature"),
        (TIMESTAMP, TOKEN, "", "missing_signature"),
        ("17048268OO", TOKEN, SIGNATURE, "malformed_timestamp"),
        ("-1704826800", TOKEN, SIGNATURE, "malformed_timestamp"),
        ("١٧٠٤٨٢٦٨٠٠", TOKEN, SIGNATURE, "malformed_timestamp"),  # non-ASCII digits
    ],
)
def test_missing_or_malformed_fields(
    timestamp: str, token: str, signature: str, reason: str
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        verify_mailgun(KEY, timestamp, token, signature, now=NOW)
    assert caught.value.reason == reason


def test_no_signing_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        verify_mailgun("", TIMESTAMP, TOKEN, SIGNATURE, now=NOW)


async def test_replayed_token_is_rejected() -> None:
    store = MemoryNonceStore()
    seen = datetime.fromtimestamp(NOW, UTC)
    verify_mailgun(KEY, TIMESTAMP, TOKEN, SIGNATURE, now=NOW)
    await reject_replay(store, tenant_id="t1", provider="mailgun", nonce=TOKEN, seen_at=seen)
    verify_mailgun(KEY, TIMESTAMP, TOKEN, SIGNATURE, now=NOW + 5)  # still a valid signature
    with pytest.raises(WebhookRejected) as caught:
        await reject_replay(store, tenant_id="t1", provider="mailgun", nonce=TOKEN, seen_at=seen)
    assert caught.value.reason == "replayed"
    # tokens are per tenant and provider
    await reject_replay(store, tenant_id="t2", provider="mailgun", nonce=TOKEN, seen_at=seen)


# -- the posted mail ------------------------------------------------------------------------


def signed_fields() -> list[tuple[str, bytes]]:
    return [
        ("timestamp", TIMESTAMP.encode()),
        ("token", TOKEN.encode()),
        ("signature", SIGNATURE.encode()),
    ]


def parsed_post(
    fields: dict[str, str] | None = None, *, headers: list[list[str]] | None = None
) -> list[tuple[str, bytes]]:
    message_headers = headers or [
        ["Received", "by mx.example.com with SMTP id abc"],
        ["Mime-Version", "1.0"],
        ["From", "Jane Roe <jane@example.com>"],
        ["To", "support+demo@shop.test"],
        ["Subject", "Re: Your order #1042"],
        ["Message-Id", "<CAF1@mail.example.com>"],
        ["In-Reply-To", "<sf-out-1.demo@shop.test>"],
        ["References", "<sf-out-0.demo@shop.test> <sf-out-1.demo@shop.test>"],
        ["Date", "Tue, 9 Jan 2024 08:31:05 +0100"],
        ["Content-Type", 'multipart/alternative; boundary="0000"'],
    ]
    base = {
        "recipient": "support+demo@shop.test",
        "sender": "jane@example.com",
        "from": "Jane Roe <jane@example.com>",
        "subject": "Re: Your order #1042",
        "body-plain": "Still nothing arrived. 😕\r\n\r\nOn Mon, Jan 8, 2024 at 10:12 AM Shop "
        "<support+demo@shop.test> wrote:\r\n> Your order shipped.\r\n",
        "stripped-text": "Still nothing arrived. 😕",
        "body-html": "<div>Still nothing arrived. 😕</div>",
        "Message-Id": "<CAF1@mail.example.com>",
        "message-headers": json.dumps(message_headers),
        "attachment-count": "1",
    }
    base.update(fields or {})
    return [*signed_fields(), *[(k, v.encode()) for k, v in base.items()]]


async def test_parsed_fields_post() -> None:
    body, content_type = multipart(
        parsed_post(), [("attachment-1", "photo 1.jpg", "image/jpeg", b"\xff\xd8" * 500)]
    )
    async with parse_form(body, content_type) as form:
        verify_mailgun(
            KEY, str(form["timestamp"]), str(form["token"]), str(form["signature"]), now=NOW
        )
        mail = mailgun_form_to_mail(form, max_bytes=MAX)
    assert mail.from_address == "jane@example.com" and mail.from_name == "Jane Roe"
    assert mail.subject == "Re: Your order #1042"
    assert mail.message_id == "<CAF1@mail.example.com>"
    assert mail.in_reply_to == "<sf-out-1.demo@shop.test>"
    assert mail.references == ["<sf-out-0.demo@shop.test>", "<sf-out-1.demo@shop.test>"]
    assert mail.reply_text == "Still nothing arrived. 😕"
    assert mail.attachments == [AttachmentInfo("photo 1.jpg", "image/jpeg", 1000)]
    assert mail.auto is None and mail.headers_ok


async def mail_of(fields: list[tuple[str, bytes]], **kwargs: object) -> ParsedMail:
    async with parse_form(*multipart(fields)) as form:
        return mailgun_form_to_mail(form, max_bytes=MAX, **kwargs)  # type: ignore[arg-type]


async def test_parsed_fields_auto_reply_and_null_sender() -> None:
    headers = [
        ["From", "Kim <kim@corp.example>"],
        ["Subject", "Automatic reply"],
        ["Auto-Submitted", "auto-replied"],
    ]
    assert (await mail_of(parsed_post(headers=headers))).auto == "auto_submitted"
    assert (await mail_of(parsed_post({"sender": ""}))).auto == "null_sender"
    assert (await mail_of(parsed_post(), ours={"jane@example.com"})).auto == "our_own"


async def test_parsed_fields_without_message_headers() -> None:
    fields = [
        (k, v)
        for k, v in parsed_post({"In-Reply-To": "<sf-out-1.demo@shop.test>"})
        if k != "message-headers"
    ]
    mail = await mail_of(fields)
    assert mail.from_address == "jane@example.com"
    assert mail.message_id == "<CAF1@mail.example.com>"
    assert mail.in_reply_to == "<sf-out-1.demo@shop.test>"


async def test_html_only_parsed_post() -> None:
    mail = await mail_of(parsed_post({"body-plain": ""}))
    assert mail.text == "Still nothing arrived. 😕"


@pytest.mark.parametrize("name", ["latin1.eml", "gmail_reply.eml", "shift_jis.eml"])
async def test_raw_mime_post_parses_like_smtp_mail(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    fields = [
        *signed_fields(),
        ("recipient", b"support+demo@shop.test"),
        ("sender", b"someone@example.com"),
        ("body-mime", raw),
    ]
    async with parse_form(*multipart(fields)) as form:
        assert raw_mime(form) == raw  # the framework's text turned back into the bytes
        mail = mailgun_form_to_mail(form, max_bytes=MAX)
    assert mail == parse_mail(raw, max_bytes=MAX)


async def test_raw_mime_in_utf8_8bit_reads_right() -> None:
    raw = (
        "From: Zoë <zoe@example.com>\r\nSubject: Größe\r\nContent-Type: text/plain; "
        "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nNaïve café, 20 €\r\n"
    ).encode()
    mail = await mail_of([("body-mime", raw)])
    assert mail.text == "Naïve café, 20 €" and mail.subject == "Größe"
    raw = raw.replace(" 20 €".encode(), b"")  # only Latin-1 characters left: still right
    mail = await mail_of([("body-mime", raw)])
    assert mail.text == "Naïve café," and mail.from_name == "Zoë"


async def test_too_large_posts() -> None:
    with pytest.raises(MailTooLarge):
        async with parse_form(*multipart(parsed_post({"body-plain": "x" * 5000}))) as form:
            mailgun_form_to_mail(form, max_bytes=4096)
    raw = (FIXTURES / "gmail_reply.eml").read_bytes()
    with pytest.raises(MailTooLarge):
        async with parse_form(*multipart([("body-mime", raw)])) as form:
            mailgun_form_to_mail(form, max_bytes=100)
