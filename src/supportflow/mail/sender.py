"""Send mail through the configured SMTP relay, at most once per Message-ID.

aiosmtplib keeps the event loop free while the relay answers (an activity worker serves many
conversations on one loop). The caller passes a deterministic Message-ID (``message_id_for``):
a send whose id is already recorded is skipped, so a retried activity does not mail the
customer twice. The id is recorded after the relay accepts the message; a process that dies
between the two sends it again on retry (at least once, never silently lost) and the receiver
can still tell the copies apart by their equal Message-ID.

Failures come back as ``MailRejected`` (the relay said no for good, 5xx: retrying will not
help) or ``MailDeferred`` (connection, timeout, 4xx: retry later). Neither message carries
an address or the relay's text, which may quote one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from email.headerregistry import Address
from email.message import EmailMessage

import aiosmtplib

from supportflow.mail.outgoing import OutgoingMail, build_message, message_id_for
from supportflow.mail.sent_record import FileSentRecord
from supportflow.settings import Settings

__all__ = [
    "MailDeferred",
    "MailError",
    "MailNotConfigured",
    "MailRejected",
    "MailSender",
    "OutgoingMail",
    "message_id_for",
]

log = logging.getLogger(__name__)

AlreadySent = Callable[[str], Awaitable[bool]]
MarkSent = Callable[[str], Awaitable[None]]

# Ids remembered in memory on top of the durable record (which answers for older ones).
_RECENT_IDS = 10_000


class MailError(Exception):
    pass


class MailNotConfigured(MailError):
    pass


class MailRejected(MailError):
    """The relay refused the message for good (5xx)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"the SMTP relay refused the message ({code})")
        self.code = code


class MailDeferred(MailError):
    """The message was not accepted this time (unreachable relay, timeout, 4xx)."""


class MailSender:
    """One per process (worker): the in-memory part of the sent record and the per-id locks
    live here, so two concurrent sends of one id do not both go out."""

    def __init__(
        self,
        settings: Settings,
        *,
        already_sent: AlreadySent | None = None,
        mark_sent: MarkSent | None = None,
    ) -> None:
        if (already_sent is None) != (mark_sent is None):
            raise ValueError("pass both already_sent and mark_sent, or neither")
        if already_sent is None or mark_sent is None:
            record = FileSentRecord(settings.data_dir / "mail-sent")
            already_sent, mark_sent = record.already_sent, record.mark_sent
        self._settings = settings
        self._already_sent = already_sent
        self._mark_sent = mark_sent
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def send(self, mail: OutgoingMail) -> bool:
        """Send ``mail``; False when its Message-ID was sent before (nothing is sent).

        Raises ValueError for a malformed mail (header injection, not one address), before
        anything is sent or recorded."""
        message = build_message(mail, default_from=self._settings.mail_from)
        message_id = str(message["Message-ID"])
        if not self._settings.smtp_host:
            raise MailNotConfigured(
                "no SMTP relay configured; set SUPPORTFLOW_SMTP_HOST (and _PORT, _USERNAME, "
                "_PASSWORD)"
            )
        async with self._lock(message_id):
            if message_id in self._recent or await self._already_sent(message_id):
                log.info("mail %s already sent; not sending again", message_id)
                return False
            await self._deliver(message)
            self._remember(message_id)
            await self._mark_sent(message_id)
        log.info("mail %s sent", message_id)
        return True

    async def _deliver(self, message: EmailMessage) -> None:
        s = self._settings
        sender = _addr_spec(message, "From")
        recipient = _addr_spec(message, "To")
        try:
            await aiosmtplib.send(
                message,
                sender=sender,
                recipients=[recipient],
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_use_tls,
                start_tls=False if s.smtp_use_tls else s.smtp_starttls,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [r.code for r in err.recipients]
            if codes and all(500 <= c < 600 for c in codes):
                raise MailRejected(codes[0]) from None
            raise MailDeferred(f"the SMTP relay deferred the recipient {codes}") from None
        except aiosmtplib.SMTPResponseException as err:
            if 500 <= err.code < 600:
                raise MailRejected(err.code) from None
            raise MailDeferred(f"the SMTP relay answered {err.code}; try again") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            # Connection-level failures (and a relay without the STARTTLS we require): the
            # text names the relay, never the message, and an operator's fix ends them.
            raise MailDeferred(
                f"could not send through the SMTP relay {s.smtp_host}:{s.smtp_port}: "
                f"{type(err).__name__}: {err}"
            ) from None

    def _remember(self, message_id: str) -> None:
        self._recent[message_id] = None
        while len(self._recent) > _RECENT_IDS:
            self._recent.popitem(last=False)

    @contextlib.asynccontextmanager
    async def _lock(self, message_id: str) -> AsyncIterator[None]:
        # One lock per id while anyone holds or waits for it; dropped when the last leaves.
        lock, users = self._locks.get(message_id, (asyncio.Lock(), 0))
        self._locks[message_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[message_id]
            if users == 1:
                del self._locks[message_id]
            else:
                self._locks[message_id] = (lock, users - 1)


def _addr_spec(message: EmailMessage, header: str) -> str:
    addresses: tuple[Address, ...] = message[header].addresses
    return addresses[0].addr_spec
