"""Sending an answer on the channel its message came by: email through the tenant's SMTP
relay, SMS through Twilio. One activity, ``send_channel_reply``, idempotent per ``key``:

- email: the Message-ID is derived from the key with a tenant secret, so a retry sends the
  same id and MailSender sends it at most once; the id is recorded as ours, to the customer's
  address, so a reply naming it proves the mailbox (channels/records.replies_to_ours);
- SMS: each part is recorded by key after Twilio accepted it, and a retry skips the parts
  already recorded; nothing is sent to a number that texted STOP.

What the workflow passes (SendReplyInput) and gets back (SendReplyResult) is the contract;
addresses never reach logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import logging
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from supportflow.channels import records
from supportflow.channels.sms.segments import shape_reply
from supportflow.channels.sms.sender import SmsDeferred, SmsRejected, TwilioSms
from supportflow.crypto.keyring import KeyRing
from supportflow.db.models import Tenant
from supportflow.mail.outgoing import OutgoingMail, message_id_for
from supportflow.mail.sender import MailDeferred, MailRejected, MailSender
from supportflow.replies.overrides import TemplateStore
from supportflow.replies.render import compiled
from supportflow.replies.sandbox import render_limited
from supportflow.replies.templates import DEFAULT_TEMPLATES
from supportflow.settings import Settings
from supportflow.tenants.channels import ChannelConfig, channel_config
from supportflow.workflows.contract import Channel, ReplyRoute

log = logging.getLogger(__name__)

# An SMS answer is at most this many segments per message part (channels/sms/segments.py).
SMS_MAX_SEGMENTS = 3
# How many of the thread's ids an answer carries in References (the newest).
MAX_REFERENCES = 20


class SendReplyInput(BaseModel):
    tenant_id: str
    customer_id: str
    # Unique per message the conversation sends (the transcript entry's message id).
    key: str
    route: ReplyRoute
    text: str
    first_name: str | None = None
    # Written by a person (an operator), not the agent: not marked as an automatic answer.
    by_person: bool = False


class SendReplyResult(BaseModel):
    status: Literal["sent", "duplicate", "suppressed"]
    # Why nothing was sent ("opted_out", "no_sms_number", ...).
    detail: str | None = None
    # The provider ids of what went out (Message-ID, MessageSids).
    external_ids: list[str] = []


def tenant_thread_secret(sessions: sessionmaker[Session], tenant_id: str) -> bytes:
    """A per-tenant value nobody outside has seen (the stored hash of its first API key):
    it keys our Message-IDs, so they cannot be guessed to fake a reply in a thread."""
    with sessions() as s:
        value = s.scalar(select(Tenant.api_key_hash).where(Tenant.id == tenant_id))
    return (value or tenant_id).encode()


def _frame(overrides: dict[str, str], name: str, facts: dict[str, object]) -> str:
    """The channel's frame around the answer, the tenant's own if valid; line breaks kept."""
    source = overrides.get(name)
    if source:
        try:
            return render_limited(compiled(source), facts).strip()
        except Exception:  # validated on save: a fact it expects is missing; use ours
            log.warning("tenant frame %s failed; using the default", name)
    return render_limited(compiled(DEFAULT_TEMPLATES[name]), facts).strip()


def _subject(route: ReplyRoute, store: str) -> str:
    subject = " ".join((route.subject or "").split())
    if not subject:
        return f"Your message to {store}"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def html_body(text: str) -> str:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    body = "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.splitlines()) + "</p>"
        for p in paragraphs
    )
    return f"<!doctype html><html><body>{body}</body></html>"


class ChannelActivities:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keyring: KeyRing,
        settings: Settings,
        mail: MailSender,
        templates: TemplateStore,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._settings = settings
        self._mail = mail
        self._templates = templates

    @activity.defn(name="send_channel_reply")
    async def send_reply(self, inp: SendReplyInput) -> SendReplyResult:
        config = await asyncio.to_thread(
            channel_config, self._sessions, self._keyring, inp.tenant_id
        )
        if config is None:
            raise ApplicationError("unknown tenant", type="UnknownTenant", non_retryable=True)
        overrides = await asyncio.to_thread(self._templates.overrides, inp.tenant_id)
        if inp.route.channel == Channel.EMAIL:
            return await self._email(inp, config, overrides)
        if inp.route.channel == Channel.SMS:
            return await self._sms(inp, config, overrides)
        raise ApplicationError("no route for chat", type="NoRoute", non_retryable=True)

    async def _email(
        self, inp: SendReplyInput, config: ChannelConfig, overrides: dict[str, str]
    ) -> SendReplyResult:
        route = inp.route
        sender = config.reply_from or self._settings.mail_from
        secret = await asyncio.to_thread(tenant_thread_secret, self._sessions, inp.tenant_id)
        key = hmac.new(secret, f"{inp.customer_id}:{inp.key}".encode(), hashlib.sha256)
        message_id = message_id_for(key.hexdigest(), sender)
        text = _frame(
            overrides,
            "email_frame",
            {"first_name": inp.first_name, "body": inp.text, "store": config.store_name},
        )
        thread = [*route.references, *([route.message_id] if route.message_id else [])]
        mail = OutgoingMail(
            to=route.address,
            subject=_subject(route, config.store_name),
            text=text,
            html=html_body(text),
            message_id=message_id,
            from_name=config.store_name,
            from_address=sender,
            in_reply_to=route.message_id,
            references=thread[-MAX_REFERENCES:],
            auto_submitted=not inp.by_person,
        )
        try:
            sent = await self._mail.send(mail)
        except ValueError as err:  # not one address, a line break in a header
            raise ApplicationError(str(err), type="BadAddress", non_retryable=True) from None
        except MailRejected as err:
            raise ApplicationError(str(err), type="MailRejected", non_retryable=True) from None
        except MailDeferred as err:
            raise ApplicationError(str(err), type="MailDeferred") from None
        # Ours, to this address: a reply naming this id proves the mailbox.
        await self._record_out(inp, "email", message_id, "sent", route.address.strip().lower())
        return SendReplyResult(status="sent" if sent else "duplicate", external_ids=[message_id])

    async def _record_out(
        self,
        inp: SendReplyInput,
        channel: str,
        external_id: str,
        status: str,
        address: str,
        provider_id: str | None = None,
    ) -> None:
        await asyncio.to_thread(
            records.record_message,
            self._sessions,
            tenant_id=inp.tenant_id,
            channel=channel,
            direction="out",
            external_id=external_id,
            status=status,
            customer_id=inp.customer_id,
            address=address,
            provider_id=provider_id,
        )

    async def _sms(
        self, inp: SendReplyInput, config: ChannelConfig, overrides: dict[str, str]
    ) -> SendReplyResult:
        route = inp.route
        if await asyncio.to_thread(
            records.sms_opted_out, self._sessions, inp.tenant_id, route.address
        ):
            log.info("sms answer not sent: the number opted out (tenant %s)", inp.tenant_id)
            return SendReplyResult(status="suppressed", detail="opted_out")
        number = config.sms_number
        if not (number and config.twilio_account_sid and config.twilio_auth_token):
            return SendReplyResult(status="suppressed", detail="sms_not_configured")
        text = _frame(overrides, "sms_frame", {"body": inp.text, "store": config.store_name})
        client = TwilioSms(
            config.twilio_account_sid,
            config.twilio_auth_token,
            base_url=self._settings.twilio_api_base_url or None,
        )
        callback = f"{self._settings.public_url}/v1/channels/twilio/status/{inp.tenant_id}"
        sids: list[str] = []
        fresh = False
        for i, body in enumerate(shape_reply(text, max_segments=SMS_MAX_SEGMENTS)):
            part_key = f"{inp.customer_id}:{inp.key}:{i}"
            if await asyncio.to_thread(
                records.message_status, self._sessions, inp.tenant_id, "sms", "out", part_key
            ):
                continue  # sent by an earlier attempt of this activity
            try:
                sent = await client.send(
                    from_=route.ours or number,
                    to=route.address,
                    body=body,
                    status_callback=callback,
                )
            except SmsRejected as err:
                raise ApplicationError(
                    f"Twilio refused the message ({err.code})",
                    type="SmsRejected",
                    non_retryable=True,
                ) from None
            except SmsDeferred as err:
                raise ApplicationError(str(err), type="SmsDeferred") from None
            await self._record_out(
                inp, "sms", part_key, sent.status or "queued", route.address, sent.sid
            )
            sids.append(sent.sid)
            fresh = True
        return SendReplyResult(status="sent" if fresh else "duplicate", external_ids=sids)
