"""A real webhook receiver on loopback for the store's outgoing webhooks (issue 14).

A small FastAPI app under uvicorn on its own thread and event loop (like ``ThreadedStore``),
recording each request's headers and raw body, answering from a script of status codes
(then 200), and checking the Shopify HMAC against the raw bytes with the shared secret.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response

from supportflow.asgi_server import LoopbackServer

SECRET = "test-webhook-secret"


def shopify_hmac(secret: str, body: bytes) -> str:
    """What a receiver computes: base64(HMAC-SHA256(secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verifies(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(shopify_hmac(secret, body), header)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    @property
    def topic(self) -> str:
        return self.headers["x-shopify-topic"]

    @property
    def webhook_id(self) -> str:
        return self.headers["x-shopify-webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value

    @property
    def signed(self) -> bool:
        return verifies(SECRET, self.body, self.headers["x-shopify-hmac-sha256"])


class _Server(LoopbackServer):
    def __init__(self, app: FastAPI) -> None:
        super().__init__("127.0.0.1", 0, name="webhook-receiver", lifespan="off")
        self._app = app

    async def start(self) -> None:
        await self.serve(self._app, self.bind())


class WebhookReceiver:
    """``url`` takes POSTs; ``script`` is a list of statuses to answer first (then 200)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.script: list[int] = []
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            with self._lock:
                status = self.script.pop(0) if self.script else 200
                self._received.append(Received(dict(request.headers), body, status))
            return Response(status_code=status)

        self._server = _Server(app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self._server.url}/hook"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def topics(self, predicate: Callable[[Received], bool] = lambda _r: True) -> list[str]:
        return [r.topic for r in self.received if predicate(r)]

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._server.start(), self._loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._server.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def dead_url() -> str:
    """A loopback URL nobody listens on (the port was free a moment ago)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hook"


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.02)
