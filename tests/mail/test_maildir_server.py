"""The embedded SMTP server, driven by the standard library's SMTP client over loopback."""

from __future__ import annotations

import asyncio
import os
import smtplib
import stat
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from supportflow.mail.maildir import maildir_path
from supportflow.mail.maildir_reader import list_messages
from supportflow.mail.maildir_server import MaildirServer, StoredMail


def _message(to: str, subject: str, body: str = "hello", *, html: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = "shopper@example.com"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@example.com>"
    msg.set_content(body, subtype="html" if html else "plain")
    # CRLF line ends: smtplib sends bytes as they are.
    return msg.as_bytes(policy=policy.SMTP)


def _send(port: int, to: list[str], raw: bytes, *, esmtp: bool = True) -> dict[str, object]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        if esmtp:
            client.ehlo()
        else:
            # Plain HELO: no SIZE declared at MAIL, so only the DATA limit can stop it.
            client.helo()
        refused: dict[str, object] = client.sendmail("shopper@example.com", to, raw)
        return refused


async def test_any_recipient_stored_newest_first_and_filtered(
    mail_server: MaildirServer, tmp_path: Path
) -> None:
    for i in range(3):
        raw = _message(f"person{i}@example.com", f"message {i}")
        await asyncio.to_thread(_send, mail_server.port, [f"person{i}@example.com"], raw)
    html = _message("a@example.net", "html only", "<p>Code <b>9911</b></p><script>x</script>")
    html = html.replace(b"text/plain", b"text/html")
    # One copy, two envelope recipients; the Bcc'd one is found by its envelope address.
    await asyncio.to_thread(_send, mail_server.port, ["a@example.net", "Hidden@Example.org"], html)

    listed = list_messages(maildir_path(tmp_path))
    assert [m["subject"] for m in listed] == ["html only", "message 2", "message 1", "message 0"]
    assert listed[0]["text"] == "Code 9911"
    assert [
        m["subject"] for m in list_messages(maildir_path(tmp_path), to="PERSON1@example.com")
    ] == ["message 1"]
    assert [
        m["subject"] for m in list_messages(maildir_path(tmp_path), to="hidden@example.org")
    ] == ["html only"]
    assert list_messages(maildir_path(tmp_path), limit=2)[-1]["subject"] == "message 2"
    assert list_messages(tmp_path / "no-such-maildir") == []


async def test_data_over_limit_gets_552_and_nothing_is_stored(tmp_path: Path) -> None:
    server = MaildirServer(maildir_path(tmp_path), "127.0.0.1", 0, max_message_bytes=64 * 1024)
    await server.start()
    try:
        big = _message("a@example.com", "big", ("y" * 69 + "\n") * 1024)
        with pytest.raises(smtplib.SMTPDataError) as err:
            await asyncio.to_thread(_send, server.port, ["a@example.com"], big, esmtp=False)
        assert err.value.smtp_code == 552
        # Declared with SIZE, it is refused at MAIL before any data is sent.
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            await asyncio.to_thread(_send, server.port, ["a@example.com"], big)
        assert refused.value.smtp_code == 552
        assert list_messages(maildir_path(tmp_path)) == []
        # The same server still takes a message under the limit.
        small = _message("a@example.com", "small")
        await asyncio.to_thread(_send, server.port, ["a@example.com"], small, esmtp=False)
        assert [m["subject"] for m in list_messages(maildir_path(tmp_path))] == ["small"]
    finally:
        await server.stop()


async def test_files_0600_and_directories_0700_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o002)
    try:
        server = MaildirServer(maildir_path(tmp_path), "127.0.0.1", 0)
        await server.start()
        try:
            raw = _message("a@example.com", "code 123456")
            await asyncio.to_thread(_send, server.port, ["a@example.com"], raw)
        finally:
            await server.stop()
    finally:
        os.umask(old)
    root = maildir_path(tmp_path)
    for directory in (root, root / "new", root / "cur", root / "tmp"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    files = list((root / "new").iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


class _TenantsOnly:
    """A router as the inbound-email work will write one: only support addresses."""

    def __init__(self) -> None:
        self.got: list[StoredMail] = []
        self.fail = False

    async def check_recipient(self, address: str) -> str | None:
        if address.startswith("support+"):
            return None
        return "550 5.1.1 no such mailbox here"

    async def received(self, mail: StoredMail) -> None:
        if self.fail:
            raise RuntimeError("agent unavailable")
        self.got.append(mail)


async def test_router_refuses_at_rcpt_and_receives_stored_mail(tmp_path: Path) -> None:
    router = _TenantsOnly()
    server = MaildirServer(maildir_path(tmp_path), "127.0.0.1", 0, router=router)
    await server.start()
    try:
        raw = _message("support+t1@supportflow.localhost", "where is my order")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
            await asyncio.to_thread(_send, server.port, ["stranger@example.com"], raw)
        assert err.value.recipients["stranger@example.com"][0] == 550
        assert list_messages(maildir_path(tmp_path)) == []

        refused = await asyncio.to_thread(
            _send, server.port, ["support+t1@supportflow.localhost", "stranger@example.com"], raw
        )
        assert list(refused) == ["stranger@example.com"]
        [got] = router.got
        assert got.envelope_to == ["support+t1@supportflow.localhost"]
        assert got.envelope_from == "shopper@example.com"
        assert got.message["Subject"] == "where is my order"
        assert got.key == list_messages(maildir_path(tmp_path))[0]["id"]

        # A router that fails makes the sender try again later (451), not lose the mail.
        router.fail = True
        with pytest.raises(smtplib.SMTPDataError) as failed:
            await asyncio.to_thread(_send, server.port, ["support+t1@supportflow.localhost"], raw)
        assert failed.value.smtp_code == 451
    finally:
        await server.stop()


async def test_stop_closes_open_sessions(tmp_path: Path) -> None:
    server = MaildirServer(maildir_path(tmp_path), "127.0.0.1", 0)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    assert (await reader.readline()).startswith(b"220 ")
    await server.stop()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    await writer.wait_closed()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port)
