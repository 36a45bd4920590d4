"""Twilio SMS: inbound messages and delivery reports, as Twilio posts them.

``POST /v1/channels/twilio/sms/{tenant_id}`` is the tenant's Messaging webhook. Every request
is checked with the official ``RequestValidator`` against the tenant's auth token and the
public URL Twilio called (Settings.public_base_url behind a proxy): forged or unsigned is 403
and nothing is stored. A MessageSid seen before is answered as before, once. STOP/START/HELP
are answered here in TwiML and remembered (nothing is sent to a stopped number afterwards);
every other message goes to the customer's conversation, whose answer is sent through
Twilio's REST API by the workflow (activities/channels.py). The webhook itself answers with an
empty TwiML response at once, so Twilio never waits on the agent.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from starlette.concurrency import run_in_threadpool
from twilio.twiml.messaging_response import MessagingResponse  # type: ignore[import-untyped]

from supportflow.api.deps import StateDep
from supportflow.api.state import ApiState
from supportflow.channels import records
from supportflow.channels.ingest import ChannelMessageIn, Ingestor, opaque_id
from supportflow.channels.sms.keywords import keyword_outcome
from supportflow.channels.sms.numbers import e164
from supportflow.channels.sms.signature import (
    BadForm,
    form_fields,
    public_request_url,
    valid_twilio_request,
)
from supportflow.store.errors import StoreError
from supportflow.tenants.channels import ChannelConfig, channel_config
from supportflow.workflows.contract import Channel, ReplyRoute, VerifiedIdentity

log = logging.getLogger(__name__)
router = APIRouter(tags=["channels"])

TenantPath = Annotated[str, Path(min_length=1, max_length=40)]
# Twilio's limit on an inbound body is 1600 characters; anything longer is not Twilio.
MAX_BODY_CHARS = 1600


def _twiml(reply: str | None = None) -> Response:
    twiml = MessagingResponse()
    if reply:
        twiml.message(reply)
    return Response(str(twiml), media_type="application/xml")


async def _checked_form(
    request: Request, state: ApiState, tenant_id: str
) -> tuple[ChannelConfig, dict[str, str]]:
    """The form of a request Twilio signed with this tenant's auth token; 403 otherwise."""
    config = await run_in_threadpool(channel_config, state.sessions, state.keyring, tenant_id)
    forbidden = HTTPException(status.HTTP_403_FORBIDDEN, "invalid Twilio signature")
    if config is None or not config.twilio_auth_token:
        raise forbidden  # no tenant, or no SMS: as unknown as a bad signature
    try:
        form = form_fields(await request.body())
    except BadForm:
        raise forbidden from None
    url = public_request_url(state.settings.public_url, request.url.path, request.url.query)
    signature = request.headers.get("X-Twilio-Signature")
    if not valid_twilio_request(config.twilio_auth_token, url, form, signature):
        log.warning("sms webhook for tenant %s refused: bad signature", tenant_id)
        raise forbidden
    return config, form


async def _proof(state: ApiState, tenant_id: str, phone: str) -> VerifiedIdentity | None:
    """The store account whose phone number this is: a text from it is that customer's."""
    if state.stores is None:
        return None
    try:
        port = await state.stores.port_for(tenant_id)
        user = await port.find_user_by_phone(phone)
    except StoreError as err:
        # Not proven this time (the message still goes through, unverified).
        log.warning("phone lookup failed for tenant %s: %s", tenant_id, type(err).__name__)
        return None
    if user is None:
        return None
    email = user.get("email")
    return VerifiedIdentity(
        store_customer_id=str(user["user_id"]),
        email=str(email) if email else None,
        method="phone",
    )


@router.post(
    "/v1/channels/twilio/sms/{tenant_id}",
    responses={403: {"description": "missing or invalid X-Twilio-Signature"}},
)
async def inbound_sms(tenant_id: TenantPath, request: Request, state: StateDep) -> Response:
    config, form = await _checked_form(request, state, tenant_id)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    sender = e164(form.get("From", ""))
    if not sid or sender is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "MessageSid and an E.164 From are required"
        )
    ingestor = Ingestor(state.sessions, state.temporal, state.settings)
    if await ingestor.seen(tenant_id, "sms", sid):
        return _twiml()  # Twilio retried: answered (or ignored) once already
    body = form.get("Body", "")[:MAX_BODY_CHARS]
    media = int(form["NumMedia"]) if form.get("NumMedia", "").isdigit() else 0
    opted_out = await run_in_threadpool(records.sms_opted_out, state.sessions, tenant_id, sender)
    outcome = keyword_outcome(body, store_name=config.store_name, opted_out=opted_out)
    if outcome.opted_out != opted_out:
        await run_in_threadpool(
            records.set_sms_opt_out, state.sessions, tenant_id, sender, outcome.opted_out
        )
    if not outcome.deliver:
        await ingestor.ignore(
            None,
            tenant_id=tenant_id,
            channel="sms",
            external_id=sid,
            reason=f"keyword_{outcome.keyword.value}",
        )
        return _twiml(outcome.reply)
    if not body.strip():
        # A picture alone: recorded, not processed; the customer is told to write.
        reason = f"media_only:{media}" if media else "empty"
        await ingestor.ignore(
            None, tenant_id=tenant_id, channel="sms", external_id=sid, reason=reason
        )
        reply = (
            None if opted_out else "Thanks! I can only read text here: please describe it in words."
        )
        return _twiml(reply if media else None)
    if not state.sender_limits().allow(tenant_id, "sms", sender):
        await ingestor.ignore(
            None, tenant_id=tenant_id, channel="sms", external_id=sid, reason="rate_limited"
        )
        return _twiml()
    verified = await _proof(state, tenant_id, sender)
    proven = (
        [("store", verified.store_customer_id or ""), ("email", verified.email or "")]
        if verified is not None
        else []
    )
    result = await ingestor.deliver(
        ChannelMessageIn(
            tenant_id=tenant_id,
            channel=Channel.SMS,
            external_id=sid,
            address=sender,
            text=body,
            route=ReplyRoute(channel=Channel.SMS, address=sender, ours=form.get("To") or None),
            verified=verified,
            proven=proven,
        )
    )
    if media:
        log.info("sms %s carried %d media item(s): recorded, not processed", opaque_id(sid), media)
    log.info("sms %s for tenant %s: %s", opaque_id(sid), tenant_id, result.status)
    return _twiml()


@router.post(
    "/v1/channels/twilio/status/{tenant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"description": "missing or invalid X-Twilio-Signature"}},
)
async def sms_status(tenant_id: TenantPath, request: Request, state: StateDep) -> Response:
    """Twilio's delivery report for a message we sent (queued, sent, delivered, failed...)."""
    _, form = await _checked_form(request, state, tenant_id)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    report = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not sid or not report:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "MessageSid and MessageStatus are required"
        )
    error = form.get("ErrorCode")
    known = await run_in_threadpool(
        records.set_delivery_status,
        state.sessions,
        tenant_id,
        sid,
        f"{report}:{error}" if error else report,
    )
    if not known:
        log.info("status report for a message we did not send (tenant %s)", tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
