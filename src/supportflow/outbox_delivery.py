"""What the two webhook senders share (the demo store's to supportflow, supportflow's to
merchants): a background task that looks at an outbox when woken or when due, deliveries
running beside it, one HTTP client, and a POST whose answer is the attempt's outcome.

``notify`` wakes the task from any thread (a write in a thread pool put rows in the outbox).
``stop`` cancels the task and every delivery at once: a delivery cut short stays in the
outbox and is sent again later, with the same event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

# Concurrent deliveries at most.
MAX_IN_FLIGHT = 16
# After an unexpected error (say, the database locked for longer than its timeout).
ERROR_PAUSE_S = 1.0


@dataclass(frozen=True)
class Attempt:
    """How one delivery went: the receiver's status code when it answered, and the class of
    failure (never a body or an address) when it did not answer 2xx."""

    ok: bool
    status_code: int | None = None
    error: str | None = None


class OutboxSender:
    def __init__(self, *, name: str, timeout_s: float) -> None:
        self._name = name
        self._timeout_s = timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._stopping = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        # No redirects: a receiver's 3xx is a failed attempt, never a hop to another host.
        self._http = httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False)
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        self._stopping = True
        tasks = [t for t in (self._task, *self._in_flight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        self._in_flight.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def notify(self) -> None:
        """Look at the outbox now. Safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._wake.set)

    async def _pass(self) -> float:
        """Start what is due; return how long to sleep unless woken."""
        raise NotImplementedError

    @property
    def _room(self) -> int:
        return MAX_IN_FLIGHT - len(self._in_flight)

    def _spawn(self, row_id: int, delivery: Coroutine[Any, Any, None]) -> None:
        """Run one delivery beside the task; when it ends the task looks again."""

        async def tracked() -> None:
            try:
                await delivery
            finally:
                self._in_flight.pop(row_id, None)
                self._wake.set()

        self._in_flight[row_id] = asyncio.create_task(tracked())

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Attempt:
        assert self._http is not None
        try:
            response = await self._http.post(url, content=body, headers=dict(headers))
        except httpx.HTTPError as exc:
            return Attempt(ok=False, error=type(exc).__name__)
        if response.is_success:
            return Attempt(ok=True, status_code=response.status_code)
        return Attempt(
            ok=False, status_code=response.status_code, error=f"HTTP {response.status_code}"
        )

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                delay = await self._pass()
            except Exception as exc:  # the task must outlive any one failure
                # The type only: a database error's text may carry customers' data.
                log.warning("%s: pass failed: %s", self._name, type(exc).__name__)
                delay = ERROR_PAUSE_S
            # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that comes
            # as the wake-up event is set (a delivery cancelled by stop() sets it), and this
            # loop would then never end.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(delay, 0.005)):
                    await self._wake.wait()
