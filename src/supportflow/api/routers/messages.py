"""A customer's message on any channel, sent by the merchant's back end with the tenant's API
key (issue 16): ``POST /v1/messages`` answers with the agent's reply when it comes within the
wait, else 202 and a ``GET /v1/messages/{message_id}`` to fetch it later.

Each channel's message goes the way that channel's own door sends it:

- chat: as ``POST /v1/chat/messages`` (routers/chat.py), the merchant acting for the visitor;
- email and SMS: as the SMTP server and the providers' webhooks (channels/ingest.py): the
  merchant's ``message_id`` is the provider id (de-duplication), the sender is resolved to
  the tenant's customer (tenants/service.resolve_channel_sender), the message is signalled
  to the conversation, and the conversation sends its answer on the channel (the tenant's
  mail relay, its Twilio number), which this API also returns.

The same trust rules as the doors: a bare address or number proves nothing (the agent asks the
customer to prove who they are, as on that channel); a valid identity token proves the
customer. The same ``message_id`` again is the same message: its first reply, no second turn.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Literal, cast
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import ValidationError
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from supportflow.api.deps import MerchantTenant, StateDep
from supportflow.api.ratelimit import Refusal, rate_limits
from supportflow.api.routers.chat import chat_turn, verified_identity
from supportflow.api.schemas import Problem
from supportflow.api.state import ApiState
from supportflow.channels import records
from supportflow.channels.inbound import reply_status
from supportflow.channels.ingest import ChannelMessageIn, Ingestor, conversation_message_id
from supportflow.channels.sms.keywords import SmsKeyword, classify_keyword
from supportflow.channels.sms.numbers import e164
from supportflow.contract.chat import ChatMessageIn
from supportflow.contract.messages import MessageChannel, MessageIn, MessageReplyOut
from supportflow.tenants.channels import ChannelConfig, channel_config, support_addresses
from supportflow.tenants.service import find_customer
from supportflow.workflows.contract import Channel, ChannelIdentity, Reply, ReplyRoute

log = logging.getLogger(__name__)
router = APIRouter(tags=["messages"])

# The merchant's message ids become the channel's provider ids under this prefix, so none can
# be taken for a real Message-ID or Twilio MessageSid.
EXTERNAL_PREFIX = "api:"
# How often a waiting POST asks the conversation for its reply (growing to the last).
_POLL_PAUSES = (0.1, 0.2, 0.3, 0.5)
_MAX_PAUSE = 1.0

_RESPONSES: dict[int | str, dict[str, object]] = {
    202: {"model": MessageReplyOut, "description": "no reply yet: fetch it from reply_url"},
    401: {"model": Problem, "description": "unknown tenant or wrong API key, or a bad token"},
    409: {
        "model": Problem,
        "description": "the shop has no such channel set up, the number opted out, or the "
        "message_id was used for another sender",
    },
    413: {"model": Problem},
    422: {"model": Problem},
    429: {"model": Problem, "description": "rate limited; see Retry-After"},
}


def _problem(code: int, detail: str) -> HTTPException:
    return HTTPException(code, detail)


def _too_many(refusal: Refusal) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        refusal.detail,
        headers={"Retry-After": str(refusal.retry_after)},
    )


def _email(address: str) -> str | None:
    try:
        _, checked = validate_email(address)
    except PydanticCustomError:
        return None
    return checked.lower()


def _sender(channel: MessageChannel, given: str) -> str:
    """``from`` as the channel keeps it; 422 when it is not one of the channel's own."""
    if channel == "chat":
        return given
    found = _email(given) if channel == "email" else e164(given)
    if found is None:
        what = "a deliverable email address" if channel == "email" else "a valid phone number"
        raise _problem(status.HTTP_422_UNPROCESSABLE_CONTENT, f"from is not {what}")
    return found


def _reply_url(message_id: str, channel: str, sender: str) -> str:
    return f"/v1/messages/{message_id}?" + urlencode({"channel": channel, "from": sender})


def _out(
    reply: Reply | None,
    channel: MessageChannel,
    message_id: str,
    sender: str,
    customer_id: str,
    *,
    duplicate: bool = False,
) -> MessageReplyOut:
    if reply is None:
        return MessageReplyOut(
            status="pending",
            channel=channel,
            message_id=message_id,
            customer_id=customer_id,
            sender=sender,
            reply_url=_reply_url(message_id, channel, sender),
        )
    return MessageReplyOut(
        status="answered",
        channel=channel,
        message_id=message_id,
        customer_id=customer_id,
        sender=sender,
        reply=reply.text,
        intent=reply.intent,
        duplicate=duplicate or reply.duplicate,
        held=reply.held,
    )


def _wait(state: ApiState, asked: float | None) -> float:
    """The wait for a reply: as asked, never longer than the chat API's."""
    most = state.settings.chat_reply_wait_seconds
    return most if asked is None else min(asked, most)


async def _answer_within(
    state: ApiState,
    tenant_id: str,
    customer_id: str,
    conversation_id: str,
    sender_key: str,
    wait_seconds: float,
) -> Reply | None:
    """The conversation's reply to a queued message, once it is there, within the wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    pauses = iter(_POLL_PAUSES)
    while True:
        try:
            found = await reply_status(
                state.temporal, tenant_id, customer_id, conversation_id, sender_key
            )
        except (WorkflowQueryFailedError, RPCError) as err:
            # Not answerable now (the run is starting, no worker is up): still queued.
            log.debug("reply lookup unavailable: %s", type(err).__name__)
        else:
            if found.reply is not None:
                return found.reply
        pause = next(pauses, _MAX_PAUSE)
        if loop.time() + pause > deadline:
            return None
        await asyncio.sleep(pause)


async def _config(state: ApiState, tenant_id: str) -> ChannelConfig:
    config = await run_in_threadpool(channel_config, state.sessions, state.keyring, tenant_id)
    if config is None:  # the key's tenant was deleted meanwhile
        raise _problem(status.HTTP_401_UNAUTHORIZED, "unknown tenant or wrong key")
    return config


def _has_channel(config: ChannelConfig, channel: Literal["email", "sms"]) -> bool:
    if channel == "email":
        return config.support_email is not None
    return bool(config.sms_number and config.twilio_account_sid and config.twilio_auth_token)


async def _channel_message(
    request: Request,
    state: ApiState,
    tenant_id: str,
    body: MessageIn,
    sender: str,
    wait_seconds: float,
) -> MessageReplyOut:
    channel = cast(Literal["email", "sms"], body.channel)
    config = await _config(state, tenant_id)
    if not _has_channel(config, channel):
        raise _problem(
            status.HTTP_409_CONFLICT,
            f"this shop has no {channel} channel set up: nothing can be sent by {channel} "
            "(see docs/channels.md)",
        )
    verified = await verified_identity(state, tenant_id, body.identity_token)
    if channel == "email":
        if sender in await run_in_threadpool(support_addresses, state.sessions):
            raise _problem(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "from is one of supportflow's own addresses"
            )
        if verified is not None and verified.email and verified.email.lower() != sender:
            raise _problem(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "the identity token is for another email address than from",
            )
    else:
        if classify_keyword(body.text) != SmsKeyword.NONE:
            raise _problem(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "STOP, START and HELP are the customer's own keywords: they come by SMS only",
            )
        if await run_in_threadpool(records.sms_opted_out, state.sessions, tenant_id, sender):
            raise _problem(
                status.HTTP_409_CONFLICT,
                "this number opted out of texts from the shop (STOP): nothing can be sent to it",
            )
    external_id = EXTERNAL_PREFIX + body.message_id
    conversation_id = conversation_message_id(channel, external_id)
    sender_key = ChannelIdentity(kind="email" if channel == "email" else "phone", value=sender).key
    ingestor = Ingestor(state.sessions, state.temporal, state.settings)
    earlier = await run_in_threadpool(
        records.inbound_sender, state.sessions, tenant_id, channel, external_id
    )
    if earlier is None:
        await _spend(request, state, tenant_id, channel, sender)
        proven: list[tuple[str, str]] = []
        if verified is not None:
            proven = [("store", verified.store_customer_id or ""), ("email", verified.email or "")]
        result = await ingestor.deliver(
            ChannelMessageIn(
                tenant_id=tenant_id,
                channel=Channel.EMAIL if channel == "email" else Channel.SMS,
                external_id=external_id,
                address=sender,
                text=body.text,
                route=ReplyRoute(
                    channel=Channel.EMAIL if channel == "email" else Channel.SMS,
                    address=sender,
                    subject=body.subject,
                    ours=config.support_email if channel == "email" else config.sms_number,
                ),
                verified=verified,
                proven=proven,
            )
        )
        if result.status == "delivered" and result.customer_id is not None:
            reply = await _answer_within(
                state, tenant_id, result.customer_id, conversation_id, sender_key, wait_seconds
            )
            return _out(reply, channel, body.message_id, sender, result.customer_id)
        # Delivered by a request with the same message_id meanwhile: as a duplicate.
        earlier = await run_in_threadpool(
            records.inbound_sender, state.sessions, tenant_id, channel, external_id
        )
    customer_id, address = earlier or (None, None)
    if customer_id is None or address != sender:
        raise _problem(
            status.HTTP_409_CONFLICT,
            "this message_id was used for another message: give each message its own id",
        )
    reply = await _answer_within(
        state, tenant_id, customer_id, conversation_id, sender_key, wait_seconds
    )
    return _out(reply, channel, body.message_id, sender, customer_id, duplicate=True)


async def _spend(
    request: Request, state: ApiState, tenant_id: str, channel: str, sender: str
) -> None:
    """The budgets a new message spends; 429 with Retry-After past one, nothing sent."""
    limits = rate_limits(request)
    if channel == "chat":
        refusal = await limits.chat_visitor_message(tenant_id, sender)
    else:
        refusal = await limits.tenant_message(tenant_id)
        if refusal is None and not state.sender_limits().allow(
            tenant_id, cast(Literal["email", "sms"], channel), sender
        ):
            refusal = Refusal("messages from this sender", 60)
    if refusal is not None:
        raise _too_many(refusal)


async def _chat_message(
    request: Request, state: ApiState, tenant_id: str, body: MessageIn, wait_seconds: float
) -> MessageReplyOut:
    try:
        chat = ChatMessageIn(
            visitor_id=body.sender,
            message_id=body.message_id,
            text=body.text,
            identity_token=body.identity_token,
        )
    except ValidationError as err:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in err.errors())
        raise _problem(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"invalid field(s): {fields}"
        ) from None
    await _spend(request, state, tenant_id, "chat", body.sender)
    reply, customer_id = await chat_turn(state, tenant_id, chat, wait_seconds=wait_seconds)
    return _out(reply, "chat", body.message_id, body.sender, customer_id)


@router.post("/v1/messages", response_model=MessageReplyOut, responses=_RESPONSES)
async def post_message(
    body: MessageIn,
    request: Request,
    tenant_id: MerchantTenant,
    state: StateDep,
    response: Response,
    wait: Annotated[float | None, Query(ge=0)] = None,
) -> MessageReplyOut:
    """A customer's message on ``channel``, from ``from``: the agent's reply within ``wait``
    seconds (at most the chat API's wait, its default), else 202 with ``reply_url``."""
    if len(body.text.encode("utf-8", "surrogatepass")) > state.settings.max_message_bytes:
        raise _problem(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"text is over {state.settings.max_message_bytes} bytes",
        )
    if not body.text.strip():
        raise _problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "text is empty")
    sender = _sender(body.channel, body.sender)
    wait_seconds = _wait(state, wait)
    if body.channel == "chat":
        out = await _chat_message(request, state, tenant_id, body, wait_seconds)
    else:
        out = await _channel_message(request, state, tenant_id, body, sender, wait_seconds)
    if out.status == "pending":
        response.status_code = status.HTTP_202_ACCEPTED
        response.headers["Location"] = out.reply_url or ""
    return out


@router.get(
    "/v1/messages/{message_id}",
    response_model=MessageReplyOut,
    responses={
        202: {"model": MessageReplyOut, "description": "no reply yet"},
        401: {"model": Problem},
        404: {"model": Problem},
        422: {"model": Problem},
    },
)
async def get_reply(
    message_id: str,
    channel: Annotated[MessageChannel, Query()],
    sender: Annotated[str, Query(alias="from", min_length=1, max_length=320)],
    tenant_id: MerchantTenant,
    state: StateDep,
    response: Response,
) -> MessageReplyOut:
    """The reply to a message sent with ``POST /v1/messages`` (its ``reply_url``)."""
    kept = _sender(channel, sender)
    not_found = HTTPException(status.HTTP_404_NOT_FOUND, "no such message from this sender")
    if channel == "chat":
        customer_id = await run_in_threadpool(
            find_customer, state.sessions, tenant_id, "chat", kept
        )
        conversation_id = message_id
        sender_key = ChannelIdentity(kind="chat", value=kept).key
    else:
        external_id = EXTERNAL_PREFIX + message_id
        earlier = await run_in_threadpool(
            records.inbound_sender, state.sessions, tenant_id, channel, external_id
        )
        customer_id = earlier[0] if earlier is not None and earlier[1] == kept else None
        conversation_id = conversation_message_id(channel, external_id)
        kind = "email" if channel == "email" else "phone"
        sender_key = ChannelIdentity(kind=kind, value=kept).key
    if customer_id is None:
        raise not_found
    try:
        found = await reply_status(
            state.temporal, tenant_id, customer_id, conversation_id, sender_key
        )
    except (WorkflowQueryFailedError, RPCError) as err:
        # The conversation cannot answer queries now: a queued message is safe in its
        # history, so say "pending", not "gone".
        log.warning("reply lookup unavailable: %s", type(err).__name__)
        response.status_code = status.HTTP_202_ACCEPTED
        return _out(None, channel, message_id, kept, customer_id)
    if found.status == "unknown" and channel == "chat":
        raise not_found
    if found.reply is None:
        # Email and SMS: recorded as delivered, so queued if the run has not read it yet.
        response.status_code = status.HTTP_202_ACCEPTED
    return _out(found.reply, channel, message_id, kept, customer_id)
