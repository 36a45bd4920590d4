"""Email as customers send it: over SMTP to the tenant's support address, and through
Mailgun's and SendGrid's inbound webhooks signed as those services sign them; the answer
comes back by mail, threaded, once per message. Loops, floods, forgeries and junk get no
answer and change nothing."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.email.mailgun import sign_mailgun
from supportflow.channels.email.sendgrid import sign_sendgrid
from supportflow.db.models import ChannelMessage
from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from supportflow.tenants.channels import configure_channels
from tests.channels.shop import MAILGUN_KEY, Shop, body_of, open_shop
from tests.helpers import TEST_KEYRING

pytestmark = pytest.mark.slow


@pytest.fixture
async def shop(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_server: MaildirServer, tmp_path: Path
) -> AsyncIterator[Shop]:
    async with open_shop(
        dev_env, settings, smtp_server, tmp_path, inbound_mail_max_bytes=1024 * 1024
    ) as s:
        yield s


def _sender() -> str:
    return f"jo-{uuid.uuid4().hex[:8]}@mail.example"


def _inbound_statuses(shop: Shop, address: str | None = None) -> list[str]:
    with shop.sessions() as s:
        q = select(ChannelMessage.status).where(
            ChannelMessage.tenant_id == shop.tenant.tenant_id, ChannelMessage.direction == "in"
        )
        if address is not None:
            q = q.where(ChannelMessage.address == address)
        return list(s.scalars(q).all())


async def test_a_mail_is_answered_by_mail_in_its_thread_once(shop: Shop) -> None:
    jo = _sender()
    sent = await shop.mail(f"Jo <{jo}>", "Hi, do you have a returns policy?", subject="Returns")
    answer = await shop.answer(sent)
    assert answer["To"] == jo and answer["Subject"] == "Re: Returns"
    assert answer["From"].addresses[0].addr_spec == shop.support_email
    assert answer["From"].addresses[0].display_name == "Mail Shop"
    assert answer["References"].split()[-1] == sent["Message-ID"]
    assert answer["Auto-Submitted"] == "auto-replied", "robots must not answer our answers"
    text = body_of(answer)
    assert text.startswith("Hi,") and "Mail Shop support" in text
    assert answer.get_body(preferencelist=("html",)) is not None, "an HTML alternative too"
    # The same message again (a retrying MTA): recorded once, answered once.
    await asyncio.sleep(0)
    await aiosmtplib.send(sent, hostname=shop.smtp.host, port=shop.smtp.port, start_tls=False)
    await asyncio.sleep(2.0)
    assert len(shop.answers_to(sent["Message-ID"])) == 1
    assert _inbound_statuses(shop, jo) == ["delivered"]


async def test_other_recipients_are_refused_and_big_mail_too(shop: Shop) -> None:
    async with aiosmtplib.SMTP(hostname=shop.smtp.host, port=shop.smtp.port) as smtp:
        await smtp.mail("jo@mail.example")
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await smtp.rcpt("support+t_other@shop.example")
        assert refused.value.code == 550
    big = f"From: {_sender()}\r\nTo: {shop.support_email}\r\nSubject: big\r\n\r\n"
    big += ("x" * 998 + "\r\n") * 2100  # 2 MB, over this shop's 1 MB limit
    with pytest.raises(aiosmtplib.SMTPResponseException) as too_big:
        await aiosmtplib.send(
            big.encode(),
            sender="jo@mail.example",
            recipients=[shop.support_email],
            hostname=shop.smtp.host,
            port=shop.smtp.port,
        )
    assert too_big.value.code == 552
    assert _inbound_statuses(shop) == []


@pytest.mark.parametrize(
    ("headers", "envelope", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, None, "auto_submitted"),
        ({"Precedence": "bulk"}, None, "precedence"),
        ({"X-Autoreply": "yes"}, None, "autoreply_header"),
        ({"List-Id": "<news.mail.example>"}, None, "list"),
        ({}, "", "null_sender"),
    ],
)
async def test_robots_and_bounces_get_no_answer(
    shop: Shop, headers: dict[str, str], envelope: str | None, reason: str
) -> None:
    sent = await shop.mail(
        _sender(), "I am out of the office until Monday.", headers=headers, envelope_from=envelope
    )
    await asyncio.sleep(2.0)
    assert shop.answers_to(sent["Message-ID"]) == []
    assert _inbound_statuses(shop) == [f"ignored:{reason}"]


async def test_mail_from_our_own_address_and_a_flooding_sender_are_not_answered(
    shop: Shop,
) -> None:
    ours = await shop.mail(shop.support_email, "an answer of ours, bounced back")
    flooder = _sender()
    assert shop.settings.rate_limit_email_per_sender == "20/hour"
    sent = [await shop.mail(flooder, f"question {i}") for i in range(21)]
    await shop.answer(sent[0])
    await asyncio.sleep(3.0)
    assert shop.answers_to(ours["Message-ID"]) == []
    assert shop.answers_to(sent[-1]["Message-ID"]) == [], "the 21st in an hour is not answered"
    assert _inbound_statuses(shop, flooder) == ["delivered"] * 20
    statuses = _inbound_statuses(shop)  # ignored mail is recorded without its address
    assert statuses.count("ignored:rate_limited") == 1 and "ignored:our_own" in statuses


async def test_a_subject_with_a_line_break_cannot_add_headers_to_the_answer(shop: Shop) -> None:
    jo = _sender()
    raw = (
        f"From: {jo}\r\nTo: {shop.support_email}\r\nMessage-ID: <{uuid.uuid4().hex}@x>\r\n"
        "Subject: =?utf-8?q?Hi=0D=0ABcc=3A_victim=40evil=2Eexample?=\r\n\r\nhello\r\n"
    )
    await aiosmtplib.send(
        raw.encode(),
        sender=jo,
        recipients=[shop.support_email],
        hostname=shop.smtp.host,
        port=shop.smtp.port,
    )
    message_id = raw.split("Message-ID: ")[1].split("\r\n")[0]
    for _ in range(600):
        found = shop.answers_to(message_id)
        if found:
            break
        await asyncio.sleep(0.05)
    [answer] = found
    assert answer["Bcc"] is None and "\n" not in answer["Subject"]


def _mailgun_form(
    shop: Shop,
    sender: str,
    text: str,
    *,
    token: str | None = None,
    timestamp: int | None = None,
    key: str = MAILGUN_KEY,
) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    tok = token or uuid.uuid4().hex
    return {
        "recipient": shop.support_email,
        "sender": sender,
        "from": f"Jo <{sender}>",
        "subject": "Order question",
        "body-plain": text,
        "Message-Id": f"<{uuid.uuid4().hex}@mail.example>",
        "timestamp": ts,
        "token": tok,
        "signature": sign_mailgun(key, ts, tok),
    }


async def test_mailgun_posts_signed_by_the_tenants_key_are_answered(shop: Shop) -> None:
    url = f"/v1/channels/mailgun/{shop.tenant.tenant_id}"
    jo = _sender()
    form = _mailgun_form(shop, jo, "hello, what are your opening hours?")
    r = await shop.http.post(url, data=form)
    assert r.status_code == 200 and r.json()["status"] == "delivered", r.text
    await shop.answer_by_id(form["Message-Id"])
    replay = await shop.http.post(url, data=form)
    assert replay.status_code == 401, "a token is good once"
    forged = _mailgun_form(shop, _sender(), "cancel my order", key="key-forged")
    assert (await shop.http.post(url, data=forged)).status_code == 401
    stale = _mailgun_form(shop, _sender(), "hi", timestamp=int(time.time()) - 3600)
    assert (await shop.http.post(url, data=stale)).status_code == 401
    elsewhere = await shop.http.post("/v1/channels/mailgun/t_nosuchtenant0000", data=form)
    assert elsewhere.status_code == 401
    assert len(_inbound_statuses(shop)) == 1, "nothing refused was recorded"


async def test_sendgrid_inbound_parse_signed_with_its_key_is_answered(shop: Shop) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    configure_channels(
        shop.sessions,
        TEST_KEYRING,
        shop.tenant.tenant_id,
        sendgrid_public_key=base64.b64encode(public).decode(),
    )
    jo = _sender()
    message_id = f"<{uuid.uuid4().hex}@mail.example>"
    raw = (
        f"From: {jo}\r\nTo: {shop.support_email}\r\nSubject: Hi\r\nMessage-ID: {message_id}\r\n"
        "\r\nhello there\r\n"
    )
    boundary = "xYzZY"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n{raw}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="envelope"\r\n\r\n'
        f'{{"to":["{shop.support_email}"],"from":"{jo}"}}\r\n--{boundary}--\r\n'
    ).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        "X-Twilio-Email-Event-Webhook-Signature": sign_sendgrid(private, ts, body),
    }
    url = f"/v1/channels/sendgrid/{shop.tenant.tenant_id}"
    r = await shop.http.post(url, content=body, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "delivered", r.text
    await shop.answer_by_id(message_id)
    tampered = body.replace(b"hello there", b"cancel all!")
    assert (await shop.http.post(url, content=tampered, headers=headers)).status_code == 401
    assert (await shop.http.post(url, content=body, headers=headers)).status_code == 401


async def test_a_provider_may_post_a_mail_larger_than_a_chat_message(shop: Shop) -> None:
    """Mailgun's raw-MIME post of a 600 KB mail (an attachment) is read, not cut off by the
    API's small body limit; one over the tenant's mail limit is 413."""
    url = f"/v1/channels/mailgun/{shop.tenant.tenant_id}"
    jo = _sender()
    attachment = base64.encodebytes(b"\x89PNG" + b"\x00" * 450_000).decode()
    message_id = f"<{uuid.uuid4().hex}@mail.example>"
    raw = (
        f"From: {jo}\r\nTo: {shop.support_email}\r\nSubject: photo\r\nMessage-ID: {message_id}\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nThe box arrived broken, photo attached.\r\n"
        "--b1\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="box.png"\r\n\r\n'
        f"{attachment}\r\n--b1--\r\n"
    )
    form = _mailgun_form(shop, jo, "")
    del form["body-plain"]
    # A "store and notify"/raw-MIME route posts multipart/form-data with a body-mime field.
    fields = {name: (None, value) for name, value in {**form, "body-mime": raw}.items()}
    r = await shop.http.post(url, files=fields)
    assert r.status_code == 200 and r.json()["status"] == "delivered", r.text
    await shop.answer_by_id(message_id)
    huge = _mailgun_form(shop, _sender(), "x" * (1024 * 1024 + 10))
    too_big = await shop.http.post(url, data=huge)
    assert too_big.status_code == 413, too_big.text
