"""An email customer: mail to the tenant's support address over SMTP, the answer read from
the stack's Maildir. Same contract as ``ChatClient``: never gives up early.

A message keeps its ``Message-ID`` however often it is sent: a refused connection, a
dropped one or a 4xx reply sends the SAME mail again (the server de-duplicates by
Message-ID); a 5xx reply (an address nobody serves, a mail too large) will not change and
ends the attempt. Once accepted, the answer is awaited in the Maildir (``MaildirWatcher``,
by ``In-Reply-To``) until ``reply_timeout_s`` in all has passed; then the message is recorded
unanswered.

Replies keep the thread, as a mail client does: ``In-Reply-To`` the latest answer,
``References`` its references and its id, "Re:" its subject, and, when the customer's mail
client quotes, the answer quoted below (the server strips quotes).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate

import aiosmtplib

from supportflow.sim.frames import strip_email_frame
from supportflow.sim.maildir_watch import MaildirWatcher, ReceivedMail
from supportflow.sim.model import SentMessage

SEND_FIRST_S = 0.5
SEND_MAX_S = 5.0
SMTP_TIMEOUT_S = 30.0
# The thread's ids a reply names in References, newest last (as mail clients trim them).
MAX_REFERENCES = 20


@dataclass(frozen=True)
class Thread:
    """The answer a reply answers: what its headers and quote are made from."""

    message_id: str
    references: tuple[str, ...]
    subject: str
    sender: str
    date: str
    text: str

    @classmethod
    def of(cls, mail: ReceivedMail) -> Thread | None:
        if mail.message_id is None:
            return None
        return cls(
            mail.message_id, mail.references, mail.subject, mail.sender, mail.date, mail.text
        )


def compose(
    *,
    message_id: str,
    sender: tuple[str, str],
    to: str,
    text: str,
    subject: str,
    thread: Thread | None,
    quote: bool,
) -> EmailMessage:
    """The customer's mail: a new one, or a reply in ``thread`` (quoting it if ``quote``)."""
    mail = EmailMessage()
    mail["From"] = formataddr(sender)
    mail["To"] = to
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id
    body = text
    if thread is None:
        mail["Subject"] = subject
    else:
        mail["Subject"] = (
            thread.subject if thread.subject.lower().startswith("re:") else f"Re: {thread.subject}"
        )
        mail["In-Reply-To"] = thread.message_id
        mail["References"] = " ".join([*thread.references, thread.message_id][-MAX_REFERENCES:])
        if quote:
            quoted = "\n".join(f"> {line}".rstrip() for line in thread.text.splitlines())
            body = f"{text}\n\nOn {thread.date}, {thread.sender} wrote:\n{quoted}\n"
    mail.set_content(body)
    return mail


def _smtp_code(err: aiosmtplib.SMTPException) -> int | None:
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in err.recipients]
        return max(codes) if codes else None
    if isinstance(err, aiosmtplib.SMTPResponseException):
        return err.code
    return None  # connection refused, dropped, timed out: no answer from the server


class EmailClient:
    def __init__(
        self,
        smtp_address: str,
        support_email: str,
        watcher: MaildirWatcher,
        reply_timeout_s: float,
    ) -> None:
        host, _, port = smtp_address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"an SMTP address is HOST:PORT, not {smtp_address!r}")
        self._host, self._port = host, int(port)
        self.support_email = support_email
        self._watcher = watcher
        self._reply_timeout_s = reply_timeout_s

    async def send(self, mail: EmailMessage, text: str) -> tuple[SentMessage, ReceivedMail | None]:
        """Send ``mail`` (whose own words are ``text``) until accepted, then wait for its
        answer. The record's ``reply`` is the answer without the email frame."""
        message_id = str(mail["Message-ID"])
        sent = SentMessage(message_id=message_id, text=text, sent_at=time.time(), channel="email")
        started = time.monotonic()
        deadline = started + self._reply_timeout_s
        if not await self._deliver(mail, deadline, sent):
            if sent.error is None:
                sent.error = f"not accepted within {self._reply_timeout_s:.0f}s"
            return sent, None
        answer = await self._watcher.wait(message_id, deadline)
        if answer is None:
            sent.error = f"no answer within {self._reply_timeout_s:.0f}s"
            return sent, None
        sent.answered_at = answer.arrived_at
        sent.latency_s = time.monotonic() - started
        sent.reply = strip_email_frame(answer.text)
        sent.error = None
        return sent, answer

    async def _deliver(self, mail: EmailMessage, deadline: float, sent: SentMessage) -> bool:
        backoff = SEND_FIRST_S
        while time.monotonic() < deadline:
            sent.attempts += 1
            timeout = max(0.1, min(SMTP_TIMEOUT_S, deadline - time.monotonic()))
            try:
                await aiosmtplib.send(
                    mail,
                    hostname=self._host,
                    port=self._port,
                    recipients=[self.support_email],
                    timeout=timeout,
                    start_tls=False,
                    use_tls=False,
                )
                return True
            except aiosmtplib.SMTPException as err:
                code = _smtp_code(err)
                if code is not None and code >= 500:
                    # An address nobody serves, a mail too large: sending again changes nothing.
                    sent.error = f"refused: smtp {code}"
                    return False
                sent.error = f"smtp {code}" if code else f"transport: {type(err).__name__}"
            except OSError as err:
                sent.error = f"transport: {type(err).__name__}"
            await asyncio.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
            backoff = min(backoff * 2, SEND_MAX_S)
        return False
