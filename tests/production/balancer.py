"""A tiny round-robin HTTP load balancer on loopback, for tests that run several API processes.

It behaves like the balancer in front of a production deployment: requests go to the live
backends in turn; a backend is taken out when its ``/health`` check fails or a connection to
it is refused, and a refused connection is retried on the next backend (nothing reached the
refusing one). A backend that dies with a request in flight gets that request a 502, as a
real balancer does for a POST it will not replay; the client resends. Health checks put a
backend back once it answers again.

It also records which backend served each chat message, by visitor, so a test can tell that
one conversation went on through several API processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import uvicorn
from starlette.types import Message, Receive, Scope, Send

from tests.helpers import _serving, free_port

HEALTH_EVERY_S = 0.3
# Hop-by-hop headers a proxy must not forward (RFC 9110 section 7.6.1), and the length and
# host, which the forwarding client sets for itself.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
        "host",
    }
)


@dataclass
class Served:
    """What the balancer saw: requests per backend, chat messages per visitor and backend,
    and how many chat messages came back answered."""

    requests: Counter[str] = field(default_factory=Counter)
    chat_backends: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    answered: int = 0
    retried_elsewhere: int = 0
    failed_in_flight: int = 0


class RoundRobin:
    """An ASGI app forwarding every HTTP request to one of ``backends`` (base URLs)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.up = {b: True for b in backends}
        self.served = Served()
        self._next = 0
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(60, connect=2))

    async def aclose(self) -> None:
        await self._http.aclose()

    def _order(self) -> list[str]:
        """Live backends, starting at the next in turn; every backend when none looks live
        (a health check may simply not have run yet)."""
        start = self._next
        self._next = (self._next + 1) % len(self.backends)
        turn = self.backends[start:] + self.backends[:start]
        live = [b for b in turn if self.up[b]]
        return live or turn

    async def check_health(self) -> None:
        while True:
            for backend in self.backends:
                try:
                    r = await self._http.get(f"{backend}/health", timeout=1)
                    self.up[backend] = r.status_code == 200
                except httpx.HTTPError:
                    self.up[backend] = False
            await asyncio.sleep(HEALTH_EVERY_S)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        assert scope["type"] == "http", "the balancer forwards HTTP only"
        body = await _read_body(receive)
        path = scope["path"]
        query = scope["query_string"].decode()
        url_path = f"{path}?{query}" if query else path
        peer = scope["client"][0] if scope.get("client") else "127.0.0.1"
        headers = [
            (k.decode(), v.decode()) for k, v in scope["headers"] if k.decode().lower() not in _HOP
        ]
        forwarded = [v for k, v in headers if k.lower() == "x-forwarded-for"]
        headers = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
        # As a reverse proxy does: the address it saw appended to what the client's side said.
        headers.append(("x-forwarded-for", ", ".join([*forwarded, peer])))
        response: httpx.Response | None = None
        backend = ""
        for attempt, backend in enumerate(self._order()):
            try:
                response = await self._http.request(
                    scope["method"], backend + url_path, headers=headers, content=body
                )
                break
            except httpx.ConnectError:
                # Refused: this backend never saw the request; take it out, try the next.
                self.up[backend] = False
                self.served.retried_elsewhere += attempt == 0
            except httpx.HTTPError:
                # Sent, and the backend went away before answering: not replayed.
                self.up[backend] = False
                self.served.failed_in_flight += 1
                break
        if response is None:
            await _respond(send, 502, b'{"detail": "no backend answered"}', [])
            return
        self.served.requests[backend] += 1
        if scope["method"] == "POST" and path == "/v1/chat/messages":
            self._note_chat(backend, body, response)
        out_headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _HOP]
        await _respond(send, response.status_code, response.content, out_headers)

    def _note_chat(self, backend: str, body: bytes, response: httpx.Response) -> None:
        with contextlib.suppress(ValueError, AttributeError):
            visitor = json.loads(body).get("visitor_id")
            if isinstance(visitor, str):
                self.served.chat_backends[visitor].add(backend)
        if response.status_code == 200:
            with contextlib.suppress(ValueError):
                self.served.answered += response.json().get("status") == "answered"


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
    raw = [(k.encode(), v.encode()) for k, v in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


@contextlib.asynccontextmanager
async def round_robin(backends: list[str]) -> AsyncIterator[tuple[str, RoundRobin]]:
    """The balancer on a free loopback port: its base URL, and the balancer (its records)."""
    balancer = RoundRobin(backends)
    port = free_port()
    # proxy_headers off: the peer it records is the real one, not what X-Forwarded-For says.
    config = uvicorn.Config(
        balancer, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    health = asyncio.create_task(balancer.check_health())
    try:
        async with _serving(uvicorn.Server(config)):
            yield f"http://127.0.0.1:{port}", balancer
    finally:
        health.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await health
        await balancer.aclose()
