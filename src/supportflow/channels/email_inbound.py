"""One inbound email, from whichever door it came in (our SMTP server, Mailgun's route,
SendGrid's Inbound Parse), into the tenant's conversation with its sender.

The door has authenticated the delivery (a recipient we serve, a provider's signature) and
hands over the raw MIME. Here it is parsed (channels/email/parse.py), mail that must get no
answer is recorded and dropped (auto-replies, bounces, lists, our own mail: no mail loops;
a sender writing too often), and the rest is ingested (channels/ingest.py) with:

- the text of the reply only (quoted history and signature stripped);
- the route back: the sender's address, the subject, and the thread (Message-ID,
  References), so the answer threads in the customer's mail client;
- proof of the mailbox when the mail replies to a message we sent only to that address.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging

from starlette.concurrency import run_in_threadpool

from supportflow.channels import records
from supportflow.channels.email.parse import MailTooLarge, MalformedMail, ParsedMail, parse_mail
from supportflow.channels.ingest import ChannelMessageIn, Ingested, Ingestor
from supportflow.channels.limits import SenderLimiter
from supportflow.mail.maildir_server import StoredMail
from supportflow.observability.metrics import count_turn
from supportflow.tenants.channels import (
    support_addresses,
    support_email_of,
    tenant_for_support_email,
)
from supportflow.workflows.contract import Channel, ReplyRoute, VerifiedIdentity

log = logging.getLogger(__name__)

# Longest customer text handed to the conversation; the rest of a long mail is cut.
MAX_TEXT_CHARS = 8000


def _external_id(mail: ParsedMail, fallback: bytes) -> str:
    """The Message-ID; for mail without one, a hash of what was received (a retry of the
    same delivery is still one message)."""
    return mail.message_id or "<sha256-" + hashlib.sha256(fallback).hexdigest() + "@no-id>"


async def our_addresses(ingestor: Ingestor) -> set[str]:
    """Every tenant's support and From address: mail from one of them is our own."""
    return await run_in_threadpool(support_addresses, ingestor.sessions)


async def accept_email(
    ingestor: Ingestor,
    limiter: SenderLimiter,
    tenant_id: str,
    raw: bytes,
    *,
    envelope_sender: str | None = None,
) -> Ingested:
    """Parse and route one raw message for ``tenant_id``. Raises MalformedMail /
    MailTooLarge for mail with nothing usable in it (the door answers with its error)."""
    # Off the event loop: a 10 MB message takes a second to parse.
    mail = await asyncio.to_thread(
        functools.partial(
            parse_mail,
            raw,
            max_bytes=ingestor.settings.inbound_mail_max_bytes,
            envelope_sender=envelope_sender,
            ours=await our_addresses(ingestor),
        )
    )
    return await accept_parsed(ingestor, limiter, tenant_id, mail, received=raw)


async def accept_parsed(
    ingestor: Ingestor,
    limiter: SenderLimiter,
    tenant_id: str,
    mail: ParsedMail,
    *,
    received: bytes,
) -> Ingested:
    """Route one parsed message (``received``: its bytes as delivered, which name a
    message without a Message-ID)."""
    external_id = _external_id(mail, received)
    sender = mail.from_address
    reason = mail.auto
    if reason is None and sender is None:
        reason = "no_sender"
    if reason is None and not limiter.allow(tenant_id, "email", sender or ""):
        reason = "rate_limited"
    text = (mail.reply_text or mail.text).strip()[:MAX_TEXT_CHARS]
    if reason is None and not text:
        reason = "empty"
    if reason is not None or sender is None:
        return await ingestor.ignore(
            None,
            tenant_id=tenant_id,
            channel="email",
            external_id=external_id,
            reason=reason or "no_sender",
        )
    if mail.attachments:
        log.info(
            "email for tenant %s carried %d attachment(s): recorded, not processed",
            tenant_id,
            len(mail.attachments),
        )
    thread = mail.thread_ids
    proven = await run_in_threadpool(
        records.replies_to_ours, ingestor.sessions, tenant_id, sender, thread
    )
    ours = await run_in_threadpool(support_email_of, ingestor.sessions, tenant_id)
    return await ingestor.deliver(
        ChannelMessageIn(
            tenant_id=tenant_id,
            channel=Channel.EMAIL,
            external_id=external_id,
            address=sender,
            text=text,
            route=ReplyRoute(
                channel=Channel.EMAIL,
                address=sender,
                subject=mail.subject or None,
                message_id=mail.message_id,
                references=thread[-20:],
                ours=ours,
            ),
            verified=VerifiedIdentity(email=sender, method="email_reply") if proven else None,
            proven=[("email", sender)] if proven else [],
        )
    )


class TenantMailRouter:
    """The inbound SMTP server's router: tenants' support addresses only (550 for any
    other, at RCPT), each stored message routed to its tenant. Every message at this door
    counts in supportflow_turns_total{channel="email", transport="smtp"}: a recipient
    refused at RCPT, a message refused for its size (552, before any tenant is known), and
    each tenant's copy by what became of it."""

    def __init__(self, ingestor: Ingestor, limiter: SenderLimiter) -> None:
        self._ingestor = ingestor
        self._limiter = limiter

    async def check_recipient(self, address: str) -> str | None:
        tenant = await asyncio.to_thread(tenant_for_support_email, self._ingestor.sessions, address)
        if tenant is not None:
            return None
        count_turn("email", "smtp", "refused")
        return "550 5.1.1 no such mailbox here"

    def refused_too_large(self) -> None:
        count_turn("email", "smtp", "too_large")

    async def received(self, mail: StoredMail) -> None:
        raw = mail.raw or mail.message.as_bytes()
        for rcpt in dict.fromkeys(a.lower() for a in mail.envelope_to):
            tenant = await asyncio.to_thread(
                tenant_for_support_email, self._ingestor.sessions, rcpt
            )
            if tenant is None:
                continue
            try:
                result = await accept_email(
                    self._ingestor, self._limiter, tenant, raw, envelope_sender=mail.envelope_from
                )
            except (MalformedMail, MailTooLarge) as err:
                # Stored in the Maildir already; nothing in it to answer.
                log.warning(
                    "inbound mail %s for tenant %s not usable: %s",
                    mail.key,
                    tenant,
                    type(err).__name__,
                )
                count_turn(
                    "email", "smtp", "too_large" if isinstance(err, MailTooLarge) else "unusable"
                )
                continue
            except Exception:
                count_turn("email", "smtp", "error")  # 451: the sender tries again
                raise
            count_turn("email", "smtp", result.door_outcome)
            log.info("inbound mail %s for tenant %s: %s", mail.key, tenant, result.status)
