"""Fixtures: small fakes of Shopify's Admin GraphQL API and Stripe's REST API, each a real
FastAPI app served by uvicorn on a free loopback port (its own thread and event loop), so the
adapters speak real HTTP to them. The fakes stand in for paid services this machine cannot
reach; the adapter code under test is the production code."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr

from supportflow.asgi_server import EmbeddedServer
from supportflow.store.adapters.shopify import ShopifyAdapter
from supportflow.store.adapters.stripe import StripeRefunds
from tests.adapters.fake_shopify import SHOPIFY_TOKEN, ShopifyState, create_shopify_app
from tests.adapters.fake_stripe import STRIPE_KEY, StripeState, create_stripe_app


class LoopbackServer:
    """An ASGI app under uvicorn on 127.0.0.1:<free port>, on a private loop in a thread."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.url = ""

    def __enter__(self) -> LoopbackServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self._app, log_level="warning", access_log=False, lifespan="off")
        self._server = EmbeddedServer(config)
        self._thread.start()
        self._done = asyncio.run_coroutine_threadsafe(
            self._server.serve(sockets=[sock]), self._loop
        )
        deadline = time.monotonic() + 30
        while not self._server.started:
            if self._done.done():
                self._done.result()
                raise RuntimeError("fake server exited during startup")
            if time.monotonic() > deadline:
                raise TimeoutError("fake server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._done.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(scope="session")
def _shopify_server() -> Iterator[tuple[LoopbackServer, ShopifyState]]:
    state = ShopifyState()
    with LoopbackServer(create_shopify_app(state)) as server:
        yield server, state


@pytest.fixture
def shopify_state(_shopify_server: tuple[LoopbackServer, ShopifyState]) -> ShopifyState:
    """The fake shop, reset to its seed for each test."""
    state = _shopify_server[1]
    state.reset()
    return state


@pytest.fixture
def shopify_url(
    _shopify_server: tuple[LoopbackServer, ShopifyState], shopify_state: ShopifyState
) -> str:
    return _shopify_server[0].url


@pytest.fixture
async def shopify(shopify_url: str) -> AsyncIterator[ShopifyAdapter]:
    async with ShopifyAdapter(
        shopify_url,
        SecretStr(SHOPIFY_TOKEN),
        job_poll_interval=0.01,
        job_poll_max_interval=0.05,
        job_timeout=5,
    ) as adapter:
        yield adapter


@pytest.fixture(scope="session")
def _stripe_server() -> Iterator[tuple[LoopbackServer, StripeState]]:
    state = StripeState()
    with LoopbackServer(create_stripe_app(state)) as server:
        yield server, state


@pytest.fixture
def stripe_state(_stripe_server: tuple[LoopbackServer, StripeState]) -> StripeState:
    state = _stripe_server[1]
    state.reset()
    return state


@pytest.fixture
def stripe_url(
    _stripe_server: tuple[LoopbackServer, StripeState], stripe_state: StripeState
) -> str:
    return _stripe_server[0].url


@pytest.fixture
async def stripe(stripe_url: str) -> AsyncIterator[StripeRefunds]:
    async with StripeRefunds(SecretStr(STRIPE_KEY), base_url=stripe_url) as adapter:
        yield adapter
