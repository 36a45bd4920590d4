"""MailSender over real SMTP to the embedded server, read back from the Maildir."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import uuid
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from supportflow.mail.maildir import maildir_path
from supportflow.mail.maildir_reader import list_messages
from supportflow.mail.maildir_server import MaildirServer
from supportflow.mail.outgoing import message_id_for
from supportflow.mail.sender import (
    MailDeferred,
    MailNotConfigured,
    MailRejected,
    MailSender,
    OutgoingMail,
)
from supportflow.settings import Settings
from tests.helpers import free_port


def _mail(**over: object) -> OutgoingMail:
    fields: dict[str, object] = {
        "to": "shopper@example.com",
        "subject": "Your sign-in code",
        "text": "Your code is 428197. It expires in 10 minutes.",
        "message_id": f"<{uuid.uuid4().hex}@supportflow.localhost>",
        **over,
    }
    return OutgoingMail(**fields)  # type: ignore[arg-type]


def _stored(data_dir: Path) -> list[dict[str, str]]:
    return list_messages(maildir_path(data_dir))


async def test_sends_text_and_html_with_threading_headers(
    mail_settings: Settings, tmp_path: Path
) -> None:
    mail = _mail(
        html="<p>Your code is <b>428197</b>.</p>",
        from_name="Demo Store",
        in_reply_to="orig-1@customer.example",
        references=["<orig-0@customer.example>", "orig-1@customer.example"],
    )
    assert await MailSender(mail_settings).send(mail) is True

    [stored] = _stored(tmp_path)
    assert stored["to"] == "shopper@example.com"
    assert stored["from"] == "Demo Store <support@supportflow.localhost>"
    assert stored["subject"] == "Your sign-in code"
    assert "428197" in stored["text"] and "<b>" not in stored["text"]
    assert stored["message_id"] == mail.message_id

    path = next((maildir_path(tmp_path) / "new").iterdir())
    raw = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert raw["In-Reply-To"] == "<orig-1@customer.example>"
    assert raw["References"] == "<orig-0@customer.example> <orig-1@customer.example>"
    assert raw["X-Original-To"] == "shopper@example.com"
    assert raw["Return-Path"] == "<support@supportflow.localhost>"
    assert raw.get_body(("html",)) is not None


async def test_same_message_id_twice_sends_once(mail_settings: Settings, tmp_path: Path) -> None:
    sender = MailSender(mail_settings)
    mail = _mail(message_id=message_id_for("wf-1/step-3", mail_settings.mail_from))
    assert await sender.send(mail) is True
    assert await sender.send(mail) is False
    # A new sender (a restarted worker) finds the durable record.
    assert await MailSender(mail_settings).send(mail) is False
    # Concurrent sends of one new id: one goes out.
    other = _mail()
    assert sorted(await asyncio.gather(sender.send(other), sender.send(other))) == [False, True]
    assert len(_stored(tmp_path)) == 2


async def test_same_message_id_from_another_process_is_not_sent(
    mail_settings: Settings, tmp_path: Path
) -> None:
    mail = _mail()
    assert await MailSender(mail_settings).send(mail) is True
    script = textwrap.dedent(
        f"""
        import asyncio
        from supportflow.mail.sender import MailSender, OutgoingMail
        from supportflow.settings import Settings
        s = Settings(data_dir={str(tmp_path)!r}, smtp_host="127.0.0.1",
                     smtp_port={mail_settings.smtp_port}, smtp_starttls=False)
        m = OutgoingMail(to="shopper@example.com", subject="again", text="again",
                         message_id={mail.message_id!r})
        print(asyncio.run(MailSender(s).send(m)))
        """
    )
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "False"
    assert len(_stored(tmp_path)) == 1


async def test_caller_supplied_sent_record(mail_settings: Settings, tmp_path: Path) -> None:
    seen: set[str] = set()

    async def already_sent(message_id: str) -> bool:
        return message_id in seen

    async def mark_sent(message_id: str) -> None:
        seen.add(message_id)

    sender = MailSender(mail_settings, already_sent=already_sent, mark_sent=mark_sent)
    mail = _mail(message_id="code-77@supportflow.localhost")
    assert await sender.send(mail) is True
    assert seen == {"<code-77@supportflow.localhost>"}
    assert not (tmp_path / "mail-sent").exists()
    with pytest.raises(ValueError, match="both"):
        MailSender(mail_settings, already_sent=already_sent)


@pytest.mark.parametrize(
    "bad",
    [
        {"subject": "Hello\r\nBcc: victim@example.com"},
        {"subject": "Hello\nX-Evil: 1"},
        {"to": "shopper@example.com\r\nBcc: victim@example.com"},
        {"to": "shopper@example.com, victim@example.com"},
        {"to": "Shopper <shopper@example.com>"},
        {"to": "not-an-address"},
        {"from_name": "Demo\r\nBcc: victim@example.com"},
        {"from_address": "support@example.com\nBcc: victim@example.com"},
        {"message_id": "<a@b>\r\nBcc: victim@example.com"},
        {"message_id": "no brackets or at"},
        {"in_reply_to": "<x@y>\nBcc: victim@example.com"},
        {"references": ["<x@y>", "<z@w>\r\nBcc: victim@example.com"]},
    ],
)
async def test_header_injection_and_bad_addresses_refused(
    mail_settings: Settings, tmp_path: Path, bad: dict[str, object]
) -> None:
    mail = _mail(**bad)
    with pytest.raises(ValueError):
        await MailSender(mail_settings).send(mail)
    assert _stored(tmp_path) == []
    assert not (tmp_path / "mail-sent").exists()


async def test_message_over_size_limit_is_refused(mail_settings: Settings, tmp_path: Path) -> None:
    sender = MailSender(mail_settings)
    mail = _mail(text="x" * (11 * 1024 * 1024))
    with pytest.raises(MailRejected) as err:
        await sender.send(mail)
    assert err.value.code == 552
    assert _stored(tmp_path) == []
    # Not recorded as sent: a fixed (smaller) mail with that id still goes out.
    fixed = _mail(message_id=mail.message_id)
    assert await sender.send(fixed) is True


async def test_unreachable_relay_defers_and_records_nothing(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_starttls=False,
        smtp_timeout_seconds=2,
    )
    with pytest.raises(MailDeferred):
        await MailSender(settings).send(_mail())
    assert not (tmp_path / "mail-sent").exists()


async def test_relay_without_starttls_refused_when_required(
    mail_server: MaildirServer, tmp_path: Path
) -> None:
    # The default (smtp_starttls=True) never sends over a connection it could not secure.
    settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=mail_server.port)
    with pytest.raises(MailDeferred):
        await MailSender(settings).send(_mail())
    assert _stored(tmp_path) == []


async def test_no_relay_configured(tmp_path: Path) -> None:
    with pytest.raises(MailNotConfigured, match="SUPPORTFLOW_SMTP_HOST"):
        await MailSender(Settings(data_dir=tmp_path, smtp_host="")).send(_mail())
