"""Inbound email counted at both doors, in the one turn counter: mail over SMTP to the real
MaildirServer with the tenants' router (transport ``smtp``), and Mailgun's signed webhook
posts to the real API (transport ``webhook``), each by what became of it. Real SMTP client,
real API, workers and dev server; counts from a /metrics scrape."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.email.mailgun import sign_mailgun
from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from tests.channels.shop import MAILGUN_KEY, Shop, open_shop
from tests.observability.test_metrics import Samples, scrape, value

MAX_BYTES = 64 * 1024


@pytest.fixture
async def shop(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_server: MaildirServer, tmp_path: Path
) -> AsyncIterator[Shop]:
    async with open_shop(
        dev_env,
        settings,
        smtp_server,
        tmp_path,
        inbound_mail_max_bytes=MAX_BYTES,
        rate_limit_email_per_sender="1/hour",
    ) as s:
        yield s


def _sender() -> str:
    return f"jo-{uuid.uuid4().hex[:8]}@mail.example"


async def _smtp(shop: Shop, raw: bytes | EmailMessage, sender: str) -> None:
    await aiosmtplib.send(
        raw,
        sender=sender,
        recipients=[shop.support_email],
        hostname=shop.smtp.host,
        port=shop.smtp.port,
        start_tls=False,
    )


async def test_mail_over_smtp_is_counted_at_the_door(shop: Shop) -> None:
    before = await scrape(shop.http)
    jo = _sender()
    sent = await shop.mail(jo, "Hi, do you have a returns policy?")  # accepted
    await _smtp(shop, sent, jo)  # the same Message-ID again: duplicate
    await shop.mail(jo, "and one more thing")  # past 1 an hour for this sender: rate_limited
    await shop.mail(_sender(), "Out of office.", headers={"Auto-Submitted": "auto-replied"})
    await _smtp(shop, b"just some words, no header at all\r\n", _sender())  # unusable
    async with aiosmtplib.SMTP(hostname=shop.smtp.host, port=shop.smtp.port) as smtp:
        await smtp.mail(_sender())
        with pytest.raises(aiosmtplib.SMTPRecipientRefused):  # refused at RCPT
            await smtp.rcpt("support+t_other@shop.example")
    big = f"From: {_sender()}\r\nTo: {shop.support_email}\r\nSubject: big\r\n\r\n"
    big += ("x" * 998 + "\r\n") * 100  # 100 KB, over this shop's 64 KB
    with pytest.raises(aiosmtplib.SMTPResponseException) as too_big:
        await _smtp(shop, big.encode(), _sender())
    assert too_big.value.code == 552
    after = await scrape(shop.http)

    door = {"channel": "email", "transport": "smtp"}
    assert _moved(before, after, **door) == {
        "accepted": 1,
        "duplicate": 1,
        "rate_limited": 1,
        "ignored": 1,
        "unusable": 1,
        "refused": 1,
        "too_large": 1,
    }
    assert _moved(before, after, channel="email", transport="webhook") == {}
    _no_ids_in_labels(after, shop)


async def test_mail_through_the_webhook_is_counted_in_the_same_counter(shop: Shop) -> None:
    url = f"/v1/channels/mailgun/{shop.tenant.tenant_id}"
    before = await scrape(shop.http)
    jo = _sender()
    first = _mailgun_form(shop, jo, "hello, what are your opening hours?")
    assert (await shop.http.post(url, data=first)).json()["status"] == "delivered"
    # The same Message-Id in a new signed post (the provider's retry): duplicate.
    again = {**_mailgun_form(shop, jo, "hello again"), "Message-Id": first["Message-Id"]}
    assert (await shop.http.post(url, data=again)).json()["status"] == "duplicate"
    limited = _mailgun_form(shop, jo, "are you there?")  # past 1 an hour for this sender
    r = await shop.http.post(url, data=limited)
    assert r.json() == {"status": "ignored", "reason": "rate_limited"}, r.text
    robot = _mailgun_form(shop, _sender(), "Out of office", headers="Auto-Submitted")
    assert (await shop.http.post(url, data=robot)).json()["status"] == "ignored"
    forged = _mailgun_form(shop, _sender(), "cancel my order", key="key-forged")
    assert (await shop.http.post(url, data=forged)).status_code == 401
    empty = _signed({"recipient": shop.support_email})  # nothing usable: Mailgun's 406
    assert (await shop.http.post(url, data=empty)).status_code == 406
    huge = _mailgun_form(shop, _sender(), "x" * (3 * MAX_BYTES))
    assert (await shop.http.post(url, data=huge)).status_code == 413
    after = await scrape(shop.http)

    hook = {"channel": "email", "transport": "webhook"}
    assert _moved(before, after, **hook) == {
        "accepted": 1,
        "duplicate": 1,
        "rate_limited": 1,
        "ignored": 1,
        "refused": 1,
        "unusable": 1,
        "too_large": 1,
    }
    assert _moved(before, after, channel="email", transport="smtp") == {}
    _no_ids_in_labels(after, shop)


def _moved(before: Samples, after: Samples, **door: str) -> dict[str, float]:
    """The outcomes of supportflow_turns_total at ``door`` that moved, and by how much."""
    out: dict[str, float] = {}
    for name, labels in after:
        got = dict(labels)
        if name != "supportflow_turns_total" or any(got.get(k) != v for k, v in door.items()):
            continue
        delta = value(after, name, **got) - value(before, name, **got)
        if delta:
            out[got["outcome"]] = delta
    return out


def _signed(fields: dict[str, str], key: str = MAILGUN_KEY) -> dict[str, str]:
    ts, token = str(int(time.time())), uuid.uuid4().hex
    return {**fields, "timestamp": ts, "token": token, "signature": sign_mailgun(key, ts, token)}


def _mailgun_form(
    shop: Shop, sender: str, text: str, *, key: str = MAILGUN_KEY, headers: str | None = None
) -> dict[str, str]:
    fields = {
        "recipient": shop.support_email,
        "sender": sender,
        "from": f"Jo <{sender}>",
        "subject": "Order question",
        "body-plain": text,
        "Message-Id": f"<{uuid.uuid4().hex}@mail.example>",
    }
    if headers is not None:  # Mailgun posts them all, or none
        pairs = [[k, fields[k.lower()]] for k in ("From", "Subject")]
        pairs += [["Message-Id", fields["Message-Id"]], [headers, "auto-replied"]]
        fields["message-headers"] = json.dumps(pairs)
    return _signed(fields, key)


def _no_ids_in_labels(samples: Samples, shop: Shop) -> None:
    for name, labels in samples:
        for k, v in labels:
            assert shop.tenant.tenant_id not in v and "@" not in v, (name, k, v)
