"""Inbound email from providers, as production receives it: Mailgun's route forward and
SendGrid's Inbound Parse, one URL per tenant.

Each request is checked before anything is read into a conversation: Mailgun's HMAC-SHA256
signature over timestamp+token with the tenant's signing key, SendGrid's ECDSA signature over
timestamp+body with the tenant's verification key (its signed-webhook option; a tenant without
one gets nothing through). Stale timestamps and a token or signature seen before are refused
(401), as are unknown tenants (the same answer: no tenant list for the asking). Then the
message goes the same way as mail to the SMTP server (channels/email_inbound.py). A message
with nothing usable is 406 (Mailgun's "do not retry"); one over the size limit 413. The door
counts each post (supportflow_turns_total, transport ``webhook``): the status says refusals;
a 200 says here what became of the mail (delivered, duplicate, ignored, rate limited).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, status
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from supportflow.api.deps import StateDep
from supportflow.api.state import ApiState
from supportflow.channels import records
from supportflow.channels.email.mailgun import mailgun_form_to_mail, verify_mailgun
from supportflow.channels.email.parsed import MailTooLarge, MalformedMail, ParsedMail
from supportflow.channels.email.sendgrid import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sendgrid_form_to_mail,
    verify_sendgrid,
)
from supportflow.channels.email.webhooks import WebhookRejected
from supportflow.channels.email_inbound import accept_parsed, our_addresses
from supportflow.channels.ingest import Ingestor
from supportflow.observability.asgi import set_turn_outcome
from supportflow.tenants.channels import ChannelConfig, channel_config

log = logging.getLogger(__name__)
router = APIRouter(tags=["channels"])

TenantPath = Annotated[str, Path(min_length=1, max_length=40)]
# A provider's form -> the mail in it (channels/email/mailgun.py, sendgrid.py).
FormToMail = Callable[..., ParsedMail]
# Form encoding and attachments make a post larger than the mail; past this it is refused
# before it is read.
_POST_OVERHEAD = 2
_MAX_FORM_FIELDS = 2000
_MAX_FORM_FILES = 100

_UNAUTHORIZED = "invalid webhook signature"


async def _config(state: ApiState, tenant_id: str) -> ChannelConfig | None:
    return await run_in_threadpool(channel_config, state.sessions, state.keyring, tenant_id)


def _check_size(request: Request, state: ApiState) -> None:
    length = request.headers.get("content-length")
    limit = state.settings.inbound_mail_max_bytes * _POST_OVERHEAD
    if length is not None and length.isdigit() and int(length) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"over {limit} bytes")


def _refuse(tenant_id: str, provider: str, reason: str) -> HTTPException:
    log.warning("%s webhook for tenant %s refused: %s", provider, tenant_id, reason)
    return HTTPException(status.HTTP_401_UNAUTHORIZED, _UNAUTHORIZED)


async def _deliver(
    request: Request,
    state: ApiState,
    tenant_id: str,
    provider: str,
    nonce: str,
    mail: ParsedMail,
    body: bytes,
) -> dict[str, Any]:
    """Into the conversation; the token may be used again if that fails on our side."""
    ingestor = Ingestor(state.sessions, state.temporal, state.settings)
    try:
        result = await accept_parsed(
            ingestor, state.sender_limits(), tenant_id, mail, received=body
        )
    except BaseException:
        await run_in_threadpool(records.forget_nonce, state.sessions, tenant_id, provider, nonce)
        raise
    log.info("%s mail for tenant %s: %s", provider, tenant_id, result.status)
    set_turn_outcome(request, result.door_outcome)  # the door's count (issue 15 item 5)
    return {"status": result.status, "reason": result.reason}


async def _form(request: Request, state: ApiState) -> FormData:
    try:
        return await request.form(
            max_files=_MAX_FORM_FILES,
            max_fields=_MAX_FORM_FIELDS,
            # A raw-MIME post carries the whole message in one field.
            max_part_size=state.settings.inbound_mail_max_bytes,
        )
    except StarletteHTTPException as err:
        # Starlette says 400 for a field past max_part_size: the mail is too large.
        if "maximum size" in str(err.detail):
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(err.detail)) from None
        raise


async def _parsed(state: ApiState, to_mail: FormToMail, form: FormData) -> ParsedMail:
    """The mail in a provider's post, parsed off the event loop; 413 / 406 for one too
    large or with nothing usable in it."""
    ours = await our_addresses(Ingestor(state.sessions, state.temporal, state.settings))
    limit = state.settings.inbound_mail_max_bytes
    try:
        return await run_in_threadpool(functools.partial(to_mail, form, max_bytes=limit, ours=ours))
    except MailTooLarge as err:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "the message is too large") from err
    except MalformedMail as err:
        raise HTTPException(status.HTTP_406_NOT_ACCEPTABLE, f"not a usable message: {err}") from err


async def _once(state: ApiState, tenant_id: str, provider: str, nonce: str) -> None:
    fresh = await run_in_threadpool(records.first_use, state.sessions, tenant_id, provider, nonce)
    if not fresh:
        raise _refuse(tenant_id, provider, "replayed")


@router.post(
    "/v1/channels/mailgun/{tenant_id}",
    responses={
        401: {"description": "bad, stale or replayed signature, or no such tenant"},
        406: {"description": "nothing usable in the message (Mailgun does not retry)"},
        413: {"description": "over the size limit"},
    },
)
async def mailgun_inbound(
    tenant_id: TenantPath, request: Request, state: StateDep
) -> dict[str, Any]:
    _check_size(request, state)
    config = await _config(state, tenant_id)
    if config is None or not config.mailgun_signing_key:
        raise _refuse(tenant_id, "mailgun", "no signing key")
    body = await request.body()
    form = await _form(request, state)
    fields = {k: v for k, v in form.items()}
    token = str(fields.get("token") or "")
    try:
        verify_mailgun(
            config.mailgun_signing_key,
            str(fields.get("timestamp") or ""),
            token,
            str(fields.get("signature") or ""),
            now=time.time(),
            max_age_seconds=state.settings.webhook_max_age_seconds,
        )
    except WebhookRejected as err:
        raise _refuse(tenant_id, "mailgun", err.reason) from None
    await _once(state, tenant_id, "mailgun", token)
    mail = await _parsed(state, mailgun_form_to_mail, form)
    return await _deliver(request, state, tenant_id, "mailgun", token, mail, body)


@router.post(
    "/v1/channels/sendgrid/{tenant_id}",
    responses={
        401: {"description": "bad, stale or replayed signature, or no such tenant"},
        406: {"description": "nothing usable in the message"},
        413: {"description": "over the size limit"},
    },
)
async def sendgrid_inbound(
    tenant_id: TenantPath, request: Request, state: StateDep
) -> dict[str, Any]:
    _check_size(request, state)
    config = await _config(state, tenant_id)
    if config is None or not config.sendgrid_public_key:
        raise _refuse(tenant_id, "sendgrid", "no verification key")
    body = await request.body()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    try:
        verify_sendgrid(
            config.sendgrid_public_key,
            request.headers.get(TIMESTAMP_HEADER, ""),
            signature,
            body,
            now=time.time(),
            max_age_seconds=state.settings.webhook_max_age_seconds,
        )
    except WebhookRejected as err:
        raise _refuse(tenant_id, "sendgrid", err.reason) from None
    except ValueError as err:  # the stored key is not a P-256 key: the tenant's set-up
        log.warning("sendgrid key of tenant %s unusable: %s", tenant_id, type(err).__name__)
        raise _refuse(tenant_id, "sendgrid", "unusable key") from None
    # SendGrid posts no one-time token; a new delivery has a new ECDSA signature.
    await _once(state, tenant_id, "sendgrid", signature)
    form = await _form(request, state)
    mail = await _parsed(state, sendgrid_form_to_mail, form)
    return await _deliver(request, state, tenant_id, "sendgrid", signature, mail, body)
