"""Rate limits on anonymous chat: per client address, per visitor, per tenant, and on new
conversations per address, over HTTP and the WebSocket.

Chat is public (its key ships in the merchant's page), so without limits one address can
start a conversation workflow per request. Each message passes, in order: its address,
(for a visitor the tenant has not seen) new conversations from that address, its visitor,
and its tenant, so a refused request never spends a budget further down: one noisy client
cannot use up its tenant's budget, and one busy tenant cannot slow the others.

Counters use the `limits` package with a moving window. `memory://` keeps them in this
process (`supportflow up`, a single API process); with several API processes each allows
the full rate (docs/scale-out.md) unless they share one store
(`SUPPORTFLOW_RATE_LIMIT_STORAGE=redis://...`, which needs the `coredis` package installed).
If that store fails, requests are let through (logged): chat stays up, unlimited for a while.

The client address is the connection's peer, unless the peer is a trusted proxy
(`SUPPORTFLOW_TRUSTED_PROXIES`), in which case it is the nearest untrusted address in
X-Forwarded-For. IPv6 clients are counted per /64, which one subscriber usually holds whole.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, WebSocket, status
from limits import RateLimitItem, parse
from limits.aio.storage import MovingWindowSupport, SlidingWindowCounterSupport, Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.storage import storage_from_string
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect

from supportflow.api.deps import ChatTenant, StateDep, get_state
from supportflow.api.state import ApiState
from supportflow.observability.metrics import count_rate_limit_refusal  # issue 15 item 5
from supportflow.observability.ws import count_refused_frame  # issue 15 item 5
from supportflow.settings import Settings
from supportflow.tenants.service import find_customer

log = logging.getLogger(__name__)

# Visitors this process has seen known to the tenant, so a returning visitor's message
# costs no database read to tell it from a new conversation.
_KNOWN_VISITORS = 50_000

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Refusal:
    what: str  # what ran out, in words for the client
    retry_after: int  # seconds until the window has room again

    @property
    def detail(self) -> str:
        return f"too many {self.what}; try again in {self.retry_after} s"


def _async_uri(uri: str) -> str:
    """The `limits` package names its asyncio storages async+<scheme>."""
    return uri if uri.startswith("async+") else f"async+{uri}"


def _limiter(storage: Storage) -> RateLimiter:
    if isinstance(storage, MovingWindowSupport):
        return MovingWindowRateLimiter(storage)
    if isinstance(storage, SlidingWindowCounterSupport):
        return SlidingWindowCounterRateLimiter(storage)
    return FixedWindowRateLimiter(storage)


class RateLimits:
    """The limits of one API process, and the counters they share."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        storage = storage_from_string(_async_uri(settings.rate_limit_storage))
        if not isinstance(storage, Storage):
            raise ValueError("SUPPORTFLOW_RATE_LIMIT_STORAGE: not a storage asyncio can use")
        self._limiter = _limiter(storage)
        self.chat_address = parse(settings.rate_limit_chat_per_address)
        self.chat_visitor = parse(settings.rate_limit_chat_per_visitor)
        self.chat_tenant = parse(settings.rate_limit_chat_per_tenant)
        self.poll_address = parse(settings.rate_limit_poll_per_address)
        self.poll_visitor = parse(settings.rate_limit_poll_per_visitor)
        self.new_visitors = parse(settings.rate_limit_new_visitors_per_address)
        self.ws_connects = parse(settings.rate_limit_ws_connects_per_address)
        self.ws_flood_close_after = settings.ws_flood_close_after
        self._trusted: list[_Network] = [
            ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies
        ]
        self._known: OrderedDict[tuple[str, str], None] = OrderedDict()
        # --- operator logins (issue 12 item 1; api/routers/auth.py) ---
        self.login_account = parse(settings.rate_limit_login_per_account)
        self.login_address = parse(settings.rate_limit_login_per_address)

    # -- the checks ------------------------------------------------------------------------

    async def chat_message(
        self, tenant_id: str, address: str, visitor_id: str | None, *, new_visitor: bool
    ) -> Refusal | None:
        checks: list[tuple[RateLimitItem, str, tuple[str, ...]]] = [
            (self.chat_address, "messages from your address", ("chat-address", address)),
        ]
        if new_visitor:
            checks.append(
                (self.new_visitors, "new conversations from your address", ("new", address))
            )
        if visitor_id is not None:
            checks.append((self.chat_visitor, "messages", ("chat-visitor", tenant_id, visitor_id)))
        checks.append(
            (self.chat_tenant, "messages to this shop right now", ("chat-tenant", tenant_id))
        )
        return await self._spend(checks)

    async def chat_visitor_message(self, tenant_id: str, visitor_id: str) -> Refusal | None:
        """A chat message the merchant's back end sends for a visitor (POST /v1/messages):
        the visitor's and the tenant's budgets, as a browser's message spends them; no
        per-address one (one back end speaks for all its customers)."""
        return await self._spend(
            [
                (
                    self.chat_visitor,
                    "messages from this visitor",
                    ("chat-visitor", tenant_id, visitor_id),
                ),
                (self.chat_tenant, "messages to this shop right now", ("chat-tenant", tenant_id)),
            ]
        )

    async def tenant_message(self, tenant_id: str) -> Refusal | None:
        """An email or SMS the merchant's back end sends (POST /v1/messages): the tenant's
        budget (the sender's own is the channel's, channels/limits.py)."""
        return await self._spend(
            [(self.chat_tenant, "messages to this shop right now", ("chat-tenant", tenant_id))]
        )

    async def chat_poll(
        self, tenant_id: str, address: str, visitor_id: str | None
    ) -> Refusal | None:
        checks: list[tuple[RateLimitItem, str, tuple[str, ...]]] = [
            (self.poll_address, "requests from your address", ("poll-address", address)),
        ]
        if visitor_id is not None:
            checks.append((self.poll_visitor, "requests", ("poll-visitor", tenant_id, visitor_id)))
        return await self._spend(checks)

    async def ws_connect(
        self, tenant_id: str, address: str, visitor_id: str, *, new_visitor: bool
    ) -> Refusal | None:
        checks: list[tuple[RateLimitItem, str, tuple[str, ...]]] = [
            (self.ws_connects, "connections from your address", ("ws-address", address)),
        ]
        if new_visitor:
            checks.append(
                (self.new_visitors, "new conversations from your address", ("new", address))
            )
        return await self._spend(checks)

    async def login_attempt(self, tenant_id: str, email: str, address: str) -> Refusal | None:
        """A password check (login, password change): per client address, then per account.
        The account is counted by a hash of tenant and email, so the store holds no email."""
        account = hashlib.sha256(f"{tenant_id}\n{email.strip().lower()}".encode()).hexdigest()
        return await self._spend(
            [
                (
                    self.login_address,
                    "sign-in attempts from your address",
                    ("login-address", address),
                ),
                (
                    self.login_account,
                    "sign-in attempts for this account",
                    ("login-account", account),
                ),
            ]
        )

    async def _spend(
        self, checks: Sequence[tuple[RateLimitItem, str, tuple[str, ...]]]
    ) -> Refusal | None:
        if not self.enabled:
            return None
        for item, what, key in checks:
            try:
                if await self._limiter.hit(item, *key):
                    continue
                stats = await self._limiter.get_window_stats(item, *key)
            except Exception:
                log.warning("rate limit storage failed; letting the request through")
                return None
            count_rate_limit_refusal(key[0])  # observability (issue 15 item 5): which limit
            return Refusal(what, max(1, math.ceil(stats.reset_time - time.time())))
        return None

    # -- who is asking ---------------------------------------------------------------------

    def client_address(self, conn: HTTPConnection) -> str:
        peer = conn.client.host if conn.client else ""
        if self._trusted and self._is_trusted(peer):
            hops = [
                hop.strip()
                for header in conn.headers.getlist("x-forwarded-for")
                for hop in header.split(",")
            ]
            # Right to left: each trusted proxy appended the address it saw; the first
            # address no trusted proxy owns is the client. Anything left of it is the
            # client's own say and counts for nothing.
            for hop in reversed(hops):
                if _ip(hop) is None:
                    break
                peer = hop
                if not self._is_trusted(hop):
                    break
        return _bucket(peer)

    def _is_trusted(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in net for net in self._trusted)

    async def is_new_visitor(self, state: ApiState, tenant_id: str, visitor_id: str) -> bool:
        """Whether this visitor id would start a conversation the tenant has not seen."""
        key = (tenant_id, visitor_id)
        if key in self._known:
            self._known.move_to_end(key)
            return False
        customer = await run_in_threadpool(
            find_customer, state.sessions, tenant_id, "chat", visitor_id
        )
        if customer is None:
            return True
        self._known[key] = None
        while len(self._known) > _KNOWN_VISITORS:
            self._known.popitem(last=False)
        return False


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _bucket(address: str) -> str:
    ip = _ip(address)
    if ip is None:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def rate_limits(conn: HTTPConnection) -> RateLimits:
    """The app's one RateLimits (its counters must outlive a request)."""
    limits = getattr(conn.app.state, "ratelimits", None)
    if not isinstance(limits, RateLimits):
        limits = RateLimits(get_state(conn).settings)
        conn.app.state.ratelimits = limits
    return limits


def _too_many(refusal: Refusal) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        refusal.detail,
        headers={"Retry-After": str(refusal.retry_after)},
    )


async def _visitor_in_body(request: Request) -> str | None:
    # FastAPI has already read and parsed the body (Starlette keeps it on the request);
    # a malformed one is the endpoint's 422 to give, not ours.
    try:
        body = await request.json()
    except ValueError:
        return None
    visitor = body.get("visitor_id") if isinstance(body, dict) else None
    return visitor if isinstance(visitor, str) and 0 < len(visitor) <= 200 else None


async def limit_chat_send(request: Request, tenant_id: ChatTenant, state: StateDep) -> None:
    """POST /v1/chat/messages: 429 with Retry-After past a limit; nothing is started."""
    limits = rate_limits(request)
    if not limits.enabled:
        return
    visitor = await _visitor_in_body(request)
    new = visitor is not None and await limits.is_new_visitor(state, tenant_id, visitor)
    refusal = await limits.chat_message(
        tenant_id, limits.client_address(request), visitor, new_visitor=new
    )
    if refusal is not None:
        raise _too_many(refusal)


async def limit_chat_poll(request: Request, tenant_id: ChatTenant) -> None:
    """GET /v1/chat/messages/{id}: a more lenient limit for clients polling a reply."""
    limits = rate_limits(request)
    visitor = request.query_params.get("visitor_id")
    refusal = await limits.chat_poll(tenant_id, limits.client_address(request), visitor)
    if refusal is not None:
        raise _too_many(refusal)


ChatSendLimit = Annotated[None, Depends(limit_chat_send)]
ChatPollLimit = Annotated[None, Depends(limit_chat_poll)]


def _error_frame(refusal: Refusal) -> dict[str, Any]:
    return {
        "type": "error",
        "status": 429,
        "retry_after": refusal.retry_after,
        "detail": refusal.detail,
    }


class WsGuard:
    """Rate limits on one chat WebSocket: its connection, and each frame it sends."""

    def __init__(
        self, websocket: WebSocket, limits: RateLimits, tenant_id: str, visitor_id: str
    ) -> None:
        self.websocket = websocket
        self.limits = limits
        self.tenant_id = tenant_id
        self.visitor_id = visitor_id
        self.address = limits.client_address(websocket)
        self.refused_in_a_row = 0

    async def admit(self, state: ApiState) -> bool:
        """After accept: False (an error frame sent, the socket closed 1008) past a limit."""
        new = await self.limits.is_new_visitor(state, self.tenant_id, self.visitor_id)
        refusal = await self.limits.ws_connect(
            self.tenant_id, self.address, self.visitor_id, new_visitor=new
        )
        if refusal is None:
            return True
        await self.websocket.send_json(_error_frame(refusal))
        await self.websocket.close(code=1008, reason="rate limit exceeded")
        return False

    async def receive_json(self) -> Any:
        """The next frame within the limits, parsed. A frame past a limit is answered with
        an error frame and never parsed; after the `ws_flood_close_after`th in a row the
        socket is closed (1008) and WebSocketDisconnect raised. A frame that is not JSON is
        returned as its text, for the caller to refuse."""
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
            started = time.perf_counter()
            refusal = await self.limits.chat_message(
                self.tenant_id, self.address, self.visitor_id, new_visitor=False
            )
            if refusal is None:
                self.refused_in_a_row = 0
                return _parse(message)
            count_refused_frame(started)  # a turn refused at the door (issue 15 item 5)
            self.refused_in_a_row += 1
            await self.websocket.send_json(_error_frame(refusal))
            if self.refused_in_a_row >= self.limits.ws_flood_close_after:
                await self.websocket.close(code=1008, reason="rate limit exceeded")
                raise WebSocketDisconnect(1008, "rate limit exceeded")


def _parse(message: Mapping[str, Any]) -> Any:
    text = message.get("text")
    if text is None:
        raw = message.get("bytes") or b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return ""  # not text: the caller refuses it as not a JSON object
    try:
        return json.loads(text)
    except ValueError:
        return text


async def ws_guard(
    websocket: WebSocket, state: ApiState, tenant_id: str, visitor_id: str
) -> WsGuard | None:
    """Call after accept. None when the connection is refused (already closed)."""
    guard = WsGuard(websocket, rate_limits(websocket), tenant_id, visitor_id)
    return guard if await guard.admit(state) else None
