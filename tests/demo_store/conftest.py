"""Fixtures: the real store over loopback HTTP, seeded in a temp dir, and the seed to compare to.

The server runs on its own event loop in a background thread, so sync tests (hypothesis) and
async tests (StoreClient) can both talk to it.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from supportflow.demo_store.faults import FaultSettings
from supportflow.demo_store.seeding import load_seed
from supportflow.demo_store.server import StoreServer
from supportflow.store.adapters.demo_client import StoreClient

Doc = dict[str, Any]


class ThreadedStore:
    """A StoreServer on a private event loop in a daemon thread."""

    def __init__(self, db_path: Path, **kwargs: Any) -> None:
        self.db_path = db_path
        self.server = StoreServer(db_path, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> ThreadedStore:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(scope="session")
def seed() -> Doc:
    return load_seed()


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedStore]:
    db_path = tmp_path_factory.mktemp("store") / "store.db"
    with ThreadedStore(db_path, admin=True) as running:
        yield running


@pytest.fixture
def start_store(tmp_path: Path) -> Iterator[Callable[..., ThreadedStore]]:
    """Start an extra store (fresh database) with custom settings; stopped after the test."""
    started: list[ThreadedStore] = []

    def start(*, faults: FaultSettings | None = None, admin: bool = True) -> ThreadedStore:
        running = ThreadedStore(tmp_path / f"store{len(started)}.db", faults=faults, admin=admin)
        running.__enter__()
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        running.__exit__(None, None, None)


@pytest.fixture
async def client(store: ThreadedStore) -> AsyncIterator[StoreClient]:
    async with StoreClient(store.url, timeout=10) as c:
        yield c


@pytest.fixture
async def admin(store: ThreadedStore) -> AsyncIterator[httpx.AsyncClient]:
    """Raw httpx client on the shared store; faults are switched off again after the test."""
    async with httpx.AsyncClient(base_url=store.url, timeout=10) as http:
        yield http
        (await http.delete("/admin/faults")).raise_for_status()


class OrderPicker:
    """Hands out seed orders matching a predicate, each at most once per session, so tests
    sharing one store never write to the same order."""

    def __init__(self, seed: Doc) -> None:
        self.seed = seed
        self.used: set[str] = set()

    def take(self, predicate: Callable[[Doc, Doc], bool], *, from_end: bool = False) -> Doc:
        for order_id in sorted(self.seed["orders"], reverse=from_end):
            order = self.seed["orders"][order_id]
            user = self.seed["users"][order["user_id"]]
            if order_id not in self.used and predicate(order, user):
                self.used.add(order_id)
                return copy.deepcopy(order)
        raise LookupError("no unused seed order matches")

    def with_status(self, status: str) -> Doc:
        """Any order in ``status``, taken from the far end so that tests needing a rarer kind
        of order (searching from the start) still find one."""
        return self.take(lambda order, _user: bool(order["status"] == status), from_end=True)


@pytest.fixture(scope="session")
def orders(seed: Doc) -> OrderPicker:
    return OrderPicker(seed)


def paid_by(order: Doc, user: Doc, source: str) -> bool:
    method_id = order["payment_history"][0]["payment_method_id"]
    return bool(user["payment_methods"][method_id]["source"] == source)


def gift_cards(user: Doc) -> list[Doc]:
    return [m for m in user["payment_methods"].values() if m["source"] == "gift_card"]
