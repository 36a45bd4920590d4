"""The fake Twilio REST API and small receiving apps, each a real uvicorn server on a free
loopback port in the test's event loop, so the sender and webhooks speak real HTTP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn

from supportflow.asgi_server import EmbeddedServer
from supportflow.channels.sms.fake_twilio import FakeTwilio, FakeTwilioServer

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789abcdef"


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on 127.0.0.1:<free port>; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("server exited during startup")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilioServer]:
    fake = FakeTwilio({ACCOUNT_SID: AUTH_TOKEN}, callback_delay_seconds=0.01)
    async with FakeTwilioServer(fake) as server:
        yield server
