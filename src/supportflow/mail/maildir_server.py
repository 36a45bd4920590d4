"""The embedded SMTP server of `supportflow up`: every message it accepts lands in the Maildir.

In `up` it is the relay for outbound mail (sign-in codes, replies), so a person trying the
product reads them at /dev/mail without any mail account. It runs on the caller's event loop
(aiosmtpd's protocol on ``loop.create_server``): no thread of its own, and stopping it is part
of the stack's ordered shutdown.

Inbound email (issue 13) plugs in through ``MailRouter``: it decides at RCPT time which
recipients are accepted (e.g. only tenants' support addresses, 550 for others) and is handed
each message once it is safely stored. The default, ``StoreEverything``, accepts any
recipient and does nothing more; the server listens on loopback unless told otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, AnyStr, Protocol, runtime_checkable

from aiosmtpd.smtp import SMTP, Envelope, Session

from supportflow.mail.maildir import PrivateMaildir

log = logging.getLogger(__name__)

# Larger messages are refused with 552 (at MAIL when the client declares SIZE, else at DATA).
DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class StoredMail:
    """A message as the server stored it, for the router's ``received`` hook."""

    key: str  # its Maildir key
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage
    # The bytes as received (CRLF), for parsers of their own (inbound email, issue 13).
    raw: bytes = b""


class MailRouter(Protocol):
    async def check_recipient(self, address: str) -> str | None:
        """None to accept ``address`` at RCPT time, or the SMTP reply refusing it
        (e.g. ``"550 5.1.1 no such mailbox"``)."""

    async def received(self, mail: StoredMail) -> None:
        """Act on a stored message (route it to a tenant's agent). Raising makes the server
        answer 451, so the sending MTA tries again later; the stored copy stays, with its
        Message-ID for de-duplication."""


@runtime_checkable
class SizeRefusalListener(Protocol):
    """A router that wants to know of each message refused for its size (552, at MAIL when
    the client declared SIZE, else at DATA): aiosmtpd refuses those itself, before any
    handler hook sees them."""

    def refused_too_large(self) -> None: ...


class _Smtp(SMTP):
    """aiosmtpd's session, telling ``on_too_large`` of its 552 replies (its own size checks
    answer with ``push``, calling no hook)."""

    def __init__(self, *args: Any, on_too_large: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_too_large = on_too_large

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str) and status.startswith("552"):
            self._on_too_large()
        await super().push(status)


def _nothing() -> None:
    return None


class StoreEverything:
    """Accept every recipient; storing in the Maildir is all that happens."""

    async def check_recipient(self, address: str) -> str | None:
        return None

    async def received(self, mail: StoredMail) -> None:
        return None


class MaildirHandler:
    """aiosmtpd handler: RCPT through the router, DATA into the Maildir, then the router."""

    def __init__(self, maildir: PrivateMaildir, router: MailRouter) -> None:
        self.maildir = maildir
        self.router = router

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = await self.router.check_recipient(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        mail_from = envelope.mail_from or ""
        # What the envelope said, as an MTA records it on delivery (the To: header may not
        # name a Bcc recipient at all). aiosmtpd parsed both from single command lines, so
        # they cannot carry line breaks.
        trace = f"Return-Path: <{mail_from}>\n" + "".join(
            f"X-Original-To: {rcpt}\n" for rcpt in envelope.rcpt_tos
        )
        # Maildir files use the local line end; SMTP's CRLF becomes LF.
        raw = trace.encode() + content.replace(b"\r\n", b"\n")
        try:
            key = await asyncio.to_thread(self.maildir.add, raw)
        except OSError:
            log.exception("could not store a message in the Maildir")
            return "451 4.3.0 could not store the message; try again later"
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        try:
            await self.router.received(
                StoredMail(key, mail_from, list(envelope.rcpt_tos), message, content)
            )
        except Exception:
            log.exception("mail router failed on stored message %s", key)
            return "451 4.3.0 message not processed; try again later"
        return "250 Message accepted for delivery"


class MaildirServer:
    def __init__(
        self,
        maildir_dir: Path,
        host: str,
        port: int,
        *,
        router: MailRouter | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        server_name: str = "supportflow.localhost",
    ) -> None:
        self.maildir_dir = maildir_dir
        self.host = host
        self.port = port
        self.router: MailRouter = router or StoreEverything()
        self.max_message_bytes = max_message_bytes
        self.server_name = server_name
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    async def start(self) -> None:
        # aiosmtpd logs every command line at INFO, addresses included: keep it to warnings.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        maildir = await asyncio.to_thread(PrivateMaildir, self.maildir_dir)
        handler = MaildirHandler(maildir, self.router)
        loop = asyncio.get_running_loop()

        router = self.router
        on_too_large = (
            router.refused_too_large if isinstance(router, SizeRefusalListener) else _nothing
        )

        def session() -> SMTP:
            smtp = _Smtp(
                handler,
                on_too_large=on_too_large,
                data_size_limit=self.max_message_bytes,
                enable_SMTPUTF8=True,
                # Given, so aiosmtpd does not look the host's name up in DNS per connection.
                hostname=self.server_name,
                ident="supportflow ESMTP",
                loop=loop,
            )
            self._sessions.add(smtp)
            return smtp

        self._server = await loop.create_server(session, self.host, self.port)
        if self.port == 0:
            self.port = self._server.sockets[0].getsockname()[1]
        log.info("SMTP server up on %s:%d, Maildir %s", self.host, self.port, self.maildir_dir)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        # Close sessions still open, so none outlives the server (a client mid-message
        # gets no 250 and sends again to whoever serves the port next).
        for smtp in list(self._sessions):
            if smtp.transport is not None:
                smtp.transport.close()
        await self._server.wait_closed()
        self._server = None
