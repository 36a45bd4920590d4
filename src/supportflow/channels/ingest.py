"""One email or SMS into the customer's conversation: de-duplicated by the provider's id,
the sender resolved to one customer per tenant, and handed to the workflow durably.

Each channel's front door (the SMTP server, the Mailgun/SendGrid/Twilio webhooks) checks its
provider's signature and parses the message first; this module is what they share:

1. a provider id seen before (Message-ID, MessageSid) is a duplicate: nothing happens again;
2. the sender resolves to a customer (tenants/service.resolve_channel_sender): on its own a
   From address or caller id leads to a conversation of its own; what the message proves
   (a reply in our thread, the account's phone number) joins the customer's one conversation;
3. the message is signalled to the workflow (signal-with-start: persisted at once, whatever
   the workers are doing), which answers it and sends the answer on the same channel;
4. the provider id is recorded. A crash between 3 and 4 delivers it again on the provider's
   retry, and the workflow answers a message id once.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from supportflow.channels import records
from supportflow.channels.inbound import enqueue
from supportflow.settings import Settings
from supportflow.tenants.service import resolve_channel_sender
from supportflow.workflows.contract import (
    Channel,
    ChannelIdentity,
    InboundMessage,
    ReplyRoute,
    VerifiedIdentity,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelMessageIn:
    """A parsed, authenticated inbound email or SMS."""

    tenant_id: str
    channel: Literal[Channel.EMAIL, Channel.SMS]
    # The provider's id: the Message-ID header, Twilio's MessageSid.
    external_id: str
    # The customer's email address (lower case) or E.164 number.
    address: str
    text: str
    route: ReplyRoute
    # What the message proves, if anything (see resolve_channel_sender).
    verified: VerifiedIdentity | None = None
    proven: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Ingested:
    status: Literal["delivered", "duplicate", "ignored"]
    reason: str | None = None
    customer_id: str | None = None
    workflow_id: str | None = None

    @property
    def door_outcome(self) -> str:
        """The door's count of it (observability.metrics.EMAIL_OUTCOMES): ``accepted``,
        ``duplicate``, ``rate_limited`` (a sender writing too often) or ``ignored``."""
        if self.status == "delivered":
            return "accepted"
        if self.status == "ignored" and self.reason == "rate_limited":
            return "rate_limited"
        return self.status


def opaque_id(external_id: str) -> str:
    """A short id for a provider id (which may be long, or name a host): logs and the
    conversation's message id use it."""
    return hashlib.sha256(external_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def conversation_message_id(channel: str, external_id: str) -> str:
    """The id a channel message has in the conversation (what ``reply_for`` looks up)."""
    return f"{channel}:{opaque_id(external_id)}"


@dataclass(frozen=True)
class Ingestor:
    sessions: sessionmaker[Session]
    client: Client
    settings: Settings

    async def ignore(
        self,
        m: ChannelMessageIn | None,
        *,
        tenant_id: str,
        channel: str,
        external_id: str,
        reason: str,
    ) -> Ingested:
        """Record a message that gets no answer (an auto-reply, a loop, a stopped number's
        keyword...), so a provider's retry of it is a duplicate too."""
        fresh = await run_in_threadpool(
            records.record_message,
            self.sessions,
            tenant_id=tenant_id,
            channel=channel,
            direction="in",
            external_id=external_id,
            status=f"ignored:{reason}",
            address=m.address if m is not None else None,
        )
        log.info(
            "%s message %s for tenant %s ignored: %s",
            channel,
            opaque_id(external_id),
            tenant_id,
            reason if fresh else f"{reason} (duplicate)",
        )
        return Ingested(status="ignored" if fresh else "duplicate", reason=reason)

    async def seen(self, tenant_id: str, channel: str, external_id: str) -> bool:
        status = await run_in_threadpool(
            records.message_status, self.sessions, tenant_id, channel, "in", external_id
        )
        return status is not None

    async def deliver(self, m: ChannelMessageIn) -> Ingested:
        channel = m.channel.value
        if await self.seen(m.tenant_id, channel, m.external_id):
            log.info("%s message %s: duplicate", channel, opaque_id(m.external_id))
            return Ingested(status="duplicate")
        sender_kind = "email_from" if m.channel == Channel.EMAIL else "phone"
        customer_id = await run_in_threadpool(
            resolve_channel_sender,
            self.sessions,
            m.tenant_id,
            (sender_kind, m.address),
            m.proven,
            m.verified.method if m.verified is not None else None,
            # An unproven email still finds the conversation its address was proven in.
            [("email", m.address)] if m.channel == Channel.EMAIL else None,
        )
        msg = InboundMessage(
            message_id=conversation_message_id(channel, m.external_id),
            channel=m.channel,
            text=m.text,
            sender=ChannelIdentity(
                kind="email" if m.channel == Channel.EMAIL else "phone", value=m.address
            ),
            # No claimed email: by email, a request that needs the account is answered "reply
            # to this email to confirm" (ask_verification.email), and the reply in our thread
            # proves the mailbox; no code is mailed for a question anyone may ask.
            verified=m.verified,
            route=m.route,
        )
        workflow_id = await enqueue(self.client, self.settings, m.tenant_id, customer_id, msg)
        await run_in_threadpool(
            records.record_message,
            self.sessions,
            tenant_id=m.tenant_id,
            channel=channel,
            direction="in",
            external_id=m.external_id,
            status="delivered",
            customer_id=customer_id,
            address=m.address,
        )
        return Ingested(status="delivered", customer_id=customer_id, workflow_id=workflow_id)
