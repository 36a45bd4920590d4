"""Web chat: send a message and get the agent's reply over HTTP or a WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, WebSocket, status
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from supportflow.api.deps import ChatTenant, StateDep
from supportflow.api.ratelimit import ChatPollLimit, ChatSendLimit, ws_guard
from supportflow.api.schemas import (
    ChatMessageIn,
    ChatReplyOut,
    ChatUpdate,
    ChatUpdatesOut,
    Problem,
)
from supportflow.api.state import ApiState
from supportflow.channels.inbound import POLL_QUERY_TIMEOUT, deliver, reply_status
from supportflow.identity.secrets import identity_secrets
from supportflow.identity.tokens import InvalidIdentityToken, verify_identity_token
from supportflow.observability.ws import ws_turn
from supportflow.tenants.service import (
    find_customer,
    resolve_verified,
    resolve_visitor,
    tenant_for_chat_key,
)
from supportflow.workflows.contract import (
    Channel,
    ChannelIdentity,
    InboundMessage,
    MessagesAfter,
    Reply,
    VerifiedIdentity,
    customer_workflow_id,
)
from supportflow.workflows.customer import CustomerWorkflow

log = logging.getLogger(__name__)
router = APIRouter(tags=["chat"])

# How often an open chat socket looks for messages a person sent.
UPDATE_POLL_SECONDS = 2.0
HOLDING_REPLY = (
    "Thanks, I've got your message and I'm working on it; I'll reply here as soon as I can."
)


def _too_long(state: ApiState, text: str) -> bool:
    return len(text.encode("utf-8", "surrogatepass")) > state.settings.max_message_bytes


async def verified_identity(
    state: ApiState, tenant_id: str, token: str | None
) -> VerifiedIdentity | None:
    """The identity a signed token proves; 401 for a forged, expired or malformed one."""
    if token is None:
        return None
    secrets = await run_in_threadpool(identity_secrets, state.sessions, state.keyring, tenant_id)
    try:
        claims = verify_identity_token(token, secrets)
    except InvalidIdentityToken as err:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(err)) from err
    return VerifiedIdentity(email=claims.email, store_customer_id=claims.sub, method="token")


async def chat_turn(
    state: ApiState, tenant_id: str, body: ChatMessageIn, *, wait_seconds: float
) -> tuple[Reply | None, str]:
    """One chat message into its visitor's (or its verified customer's) conversation: the
    reply when it comes within ``wait_seconds`` (else None: queued, answered later), and the
    customer id. Also the merchant's messages API acting for a visitor (routers/messages.py)."""
    verified = await verified_identity(state, tenant_id, body.identity_token)
    if verified is None:
        customer_id = await run_in_threadpool(
            resolve_visitor, state.sessions, tenant_id, body.visitor_id
        )
    else:
        kind, value = (
            ("store", verified.store_customer_id)
            if verified.store_customer_id
            else ("email", verified.email or "")
        )
        # A token naming both the store account and its email covers both: an email from
        # that address (proven in our thread) continues the same conversation.
        also = [("email", verified.email)] if verified.store_customer_id and verified.email else []
        customer_id = await run_in_threadpool(
            resolve_verified,
            state.sessions,
            tenant_id,
            body.visitor_id,
            kind,
            value,
            "token",
            also,
        )
    msg = InboundMessage(
        message_id=body.message_id,
        channel=Channel.CHAT,
        text=body.text,
        sender=ChannelIdentity(kind="chat", value=body.visitor_id),
        email=str(body.email) if body.email else None,
        verified=verified,
    )
    delivery = await deliver(
        state.temporal, state.settings, tenant_id, customer_id, msg, wait_seconds=wait_seconds
    )
    return delivery.reply, customer_id


async def _send(state: ApiState, tenant_id: str, body: ChatMessageIn) -> ChatReplyOut:
    reply, customer_id = await chat_turn(
        state, tenant_id, body, wait_seconds=state.settings.chat_reply_wait_seconds
    )
    return _out(reply, body.message_id, body.visitor_id, customer_id)


def _out(reply: Reply | None, message_id: str, visitor_id: str, customer_id: str) -> ChatReplyOut:
    if reply is None:
        return ChatReplyOut(
            status="pending",
            message_id=message_id,
            customer_id=customer_id,
            reply_url=f"/v1/chat/messages/{message_id}?visitor_id={visitor_id}",
            holding=HOLDING_REPLY,
        )
    return ChatReplyOut(
        status="answered",
        message_id=message_id,
        customer_id=customer_id,
        reply=reply.text,
        intent=reply.intent,
        duplicate=reply.duplicate,
        held=reply.held,
    )


async def _updates(
    state: ApiState, tenant_id: str, customer_id: str, visitor_id: str, after: int
) -> ChatUpdatesOut:
    handle = state.temporal.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id(tenant_id, customer_id)
    )
    sender = ChannelIdentity(kind="chat", value=visitor_id).key
    entries = await handle.query(
        CustomerWorkflow.messages_after,
        MessagesAfter(seq=after, sender=sender),
        rpc_timeout=POLL_QUERY_TIMEOUT,
    )
    shown = [
        ChatUpdate(seq=e.seq, role=e.role, text=e.text, at=e.at, message_id=e.message_id)
        for e in entries
        if e.role != "customer" and e.text
    ]
    return ChatUpdatesOut(messages=shown, last_seq=max([after, *(m.seq for m in shown)]))


@router.post(
    "/v1/chat/messages",
    response_model=ChatReplyOut,
    responses={
        202: {"model": ChatReplyOut},
        401: {"model": Problem, "description": "unknown chat key, or a bad identity token"},
        413: {"model": Problem},
        422: {"model": Problem},
        429: {"model": Problem, "description": "rate limited; see Retry-After"},
    },
)
async def post_message(
    body: ChatMessageIn,
    tenant_id: ChatTenant,
    state: StateDep,
    response: Response,
    _limited: ChatSendLimit,
) -> ChatReplyOut:
    if _too_long(state, body.text):
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"text is over {state.settings.max_message_bytes} bytes",
        )
    if not body.text.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "text is empty")
    out = await _send(state, tenant_id, body)
    if out.status == "pending":
        response.status_code = status.HTTP_202_ACCEPTED
        response.headers["Location"] = out.reply_url or ""
    return out


@router.get(
    "/v1/chat/messages/{message_id}",
    response_model=ChatReplyOut,
    responses={
        202: {"model": ChatReplyOut},
        404: {"model": Problem},
        429: {"model": Problem, "description": "rate limited; see Retry-After"},
    },
)
async def get_reply(
    message_id: str,
    visitor_id: Annotated[str, Query(min_length=1, max_length=200)],
    tenant_id: ChatTenant,
    state: StateDep,
    response: Response,
    _limited: ChatPollLimit,
) -> ChatReplyOut:
    customer_id = await run_in_threadpool(
        find_customer, state.sessions, tenant_id, "chat", visitor_id
    )
    not_found = HTTPException(status.HTTP_404_NOT_FOUND, "no such message for this visitor")
    if customer_id is None:
        raise not_found
    sender = ChannelIdentity(kind="chat", value=visitor_id)
    try:
        found = await reply_status(state.temporal, tenant_id, customer_id, message_id, sender.key)
    except (WorkflowQueryFailedError, RPCError) as err:
        # The conversation cannot answer queries now (its workflow tasks fail, or no worker
        # is up): a queued message is safe in its history, so say "pending", not "gone".
        log.warning("reply lookup unavailable: %s", type(err).__name__)
        response.status_code = status.HTTP_202_ACCEPTED
        return _out(None, message_id, visitor_id, customer_id)
    if found.status == "unknown":
        raise not_found
    if found.reply is None:
        response.status_code = status.HTTP_202_ACCEPTED
    return _out(found.reply, message_id, visitor_id, customer_id)


@router.get(
    "/v1/chat/updates",
    response_model=ChatUpdatesOut,
    responses={404: {"model": Problem}, 429: {"model": Problem}},
)
async def get_updates(
    visitor_id: Annotated[str, Query(min_length=1, max_length=200)],
    tenant_id: ChatTenant,
    state: StateDep,
    _limited: ChatPollLimit,
    after: Annotated[int, Query(ge=0)] = 0,
) -> ChatUpdatesOut:
    """What the agent and the store's people said to this visitor after message ``after``:
    replies, and messages sent outside a reply (a person's answer, an approval's outcome)."""
    customer_id = await run_in_threadpool(
        find_customer, state.sessions, tenant_id, "chat", visitor_id
    )
    if customer_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no conversation for this visitor")
    try:
        return await _updates(state, tenant_id, customer_id, visitor_id, after)
    except (WorkflowQueryFailedError, RPCError) as err:
        # Not answerable now (no worker, or a run without numbered messages): nothing new.
        log.warning("chat updates unavailable: %s", type(err).__name__)
        return ChatUpdatesOut(messages=[], last_seq=after)


@router.websocket("/v1/chat/stream")
async def chat_stream(
    websocket: WebSocket,
    state: StateDep,
    chat_key: Annotated[str, Query()] = "",
    visitor_id: Annotated[str, Query(max_length=200)] = "",
    after: Annotated[int, Query(ge=0)] = 0,
) -> None:
    """Browsers cannot set headers on a WebSocket, so the public chat key comes in the query.
    Each frame sent is a message ({message_id, text, email?}); each reply is pushed back.
    What the agent or a person says otherwise after entry ``after`` (the last the page
    shows) is pushed as {"type": "message", seq, role, text, at, message_id}."""
    tenant_id = await run_in_threadpool(tenant_for_chat_key, state.sessions, chat_key)
    if tenant_id is None or not visitor_id:
        await websocket.close(code=1008, reason="unknown tenant or wrong key")
        return
    await websocket.accept()
    guard = await ws_guard(websocket, state, tenant_id, visitor_id)  # rate limits
    if guard is None:
        return
    followups: set[asyncio.Task[None]] = set()
    # Messages this socket sent: their replies arrive as answers, never again as updates.
    sent: set[str] = set()
    followups.add(
        asyncio.create_task(_push_updates(websocket, state, tenant_id, visitor_id, sent, after))
    )
    try:
        while True:
            frame = await guard.receive_json()
            if isinstance(frame, dict) and isinstance(frame.get("message_id"), str):
                sent.add(frame["message_id"])
            with ws_turn() as turn:  # a trace and a count per message (issue 15 item 5)
                out = await _ws_turn(state, tenant_id, visitor_id, frame)
                turn.status = _frame_status(out)
            await websocket.send_json(out)
            if out.get("status") == "pending":
                task = asyncio.create_task(
                    _push_when_ready(websocket, state, tenant_id, visitor_id, out)
                )
                followups.add(task)
                task.add_done_callback(followups.discard)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        for task in followups:
            task.cancel()


def _frame_status(out: dict[str, Any]) -> int:
    """The HTTP status the same message would have had over POST /v1/chat/messages."""
    given = out.get("status")
    if isinstance(given, int):
        return given
    return status.HTTP_202_ACCEPTED if given == "pending" else status.HTTP_200_OK


async def _ws_turn(state: ApiState, tenant_id: str, visitor_id: str, frame: Any) -> dict[str, Any]:
    if not isinstance(frame, dict):
        return {"type": "error", "status": 422, "detail": "each frame must be a JSON object"}
    try:
        body = ChatMessageIn.model_validate({**frame, "visitor_id": visitor_id})
    except ValidationError as err:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in err.errors())
        return {"type": "error", "status": 422, "detail": f"invalid field(s): {fields}"}
    if _too_long(state, body.text):
        return {"type": "error", "status": 413, "detail": "text is over the size limit"}
    if not body.text.strip():
        return {"type": "error", "status": 422, "detail": "text is empty"}
    try:
        out = await _send(state, tenant_id, body)
    except HTTPException as err:
        # A forged or expired identity token: this frame is refused, the socket stays open.
        return {
            "type": "error",
            "status": err.status_code,
            "message_id": body.message_id,
            "detail": err.detail,
        }
    except Exception:
        log.exception("chat turn failed")
        return {
            "type": "error",
            "status": 503,
            "message_id": body.message_id,
            "detail": "the agent is unavailable; try again shortly",
        }
    return {"type": "reply", **out.model_dump()}


async def _push_when_ready(
    websocket: WebSocket,
    state: ApiState,
    tenant_id: str,
    visitor_id: str,
    pending: dict[str, Any],
) -> None:
    delay = 0.5
    for _ in range(120):
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 10.0)
        with contextlib.suppress(Exception):
            found = await reply_status(
                state.temporal,
                tenant_id,
                pending["customer_id"],
                pending["message_id"],
                ChannelIdentity(kind="chat", value=visitor_id).key,
            )
            if found.reply is not None:
                await websocket.send_json(
                    {
                        "type": "reply",
                        "status": "answered",
                        "message_id": found.message_id,
                        "customer_id": pending["customer_id"],
                        "reply": found.reply.text,
                        "intent": found.reply.intent,
                        "duplicate": False,
                    }
                )
                return


async def _push_updates(
    websocket: WebSocket,
    state: ApiState,
    tenant_id: str,
    visitor_id: str,
    sent: set[str],
    after: int,
) -> None:
    """Push what the agent or a person says to this visitor outside the answers to this
    socket's own messages (an operator's reply, an approval's outcome), after entry
    ``after`` (what the page already shows), while the socket is open."""
    customer_id = await run_in_threadpool(
        find_customer, state.sessions, tenant_id, "chat", visitor_id
    )
    while customer_id is None:  # no conversation until the first message
        await asyncio.sleep(UPDATE_POLL_SECONDS)
        customer_id = await run_in_threadpool(
            find_customer, state.sessions, tenant_id, "chat", visitor_id
        )
    with state.nudges.listening(tenant_id, customer_id) as nudged:
        while True:
            nudged.clear()
            try:
                got = await _updates(state, tenant_id, customer_id, visitor_id, after)
            except (WorkflowQueryFailedError, RPCError) as err:
                log.debug("chat updates unavailable: %s", type(err).__name__)
            else:
                for m in got.messages:
                    if m.message_id not in sent:
                        frame = {"type": "message", **m.model_dump(mode="json")}
                        await websocket.send_json(frame)
                after = got.last_seq
            # Woken at once by an operator's action in this process; else polled.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(nudged.wait(), UPDATE_POLL_SECONDS)
