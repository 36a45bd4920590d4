"""The background task that delivers the outbox and reports abandoned checkouts.

Started in the store app's lifespan and stopped on shutdown. One ``httpx.AsyncClient`` for
every delivery. Database work runs in threads (SQLite calls block). A write that put rows in
the outbox wakes the task (``notify``); otherwise it sleeps until the next retry or
abandonment falls due, at most ``poll_interval_s``. Deliveries of different customers run
concurrently; a customer's next event waits until the one before is delivered or given up.

Delivery is at least once: a row is marked after its answer, so a crash in between sends it
again, with the same ``X-Shopify-Webhook-Id`` for the receiver to de-duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import httpx
from sqlalchemy import Engine

from supportflow.demo_store.webhooks import abandoned, outbox
from supportflow.demo_store.webhooks.config import StoreWebhooks
from supportflow.demo_store.webhooks.signing import webhook_headers

log = logging.getLogger(__name__)

# Concurrent deliveries at most (each to a different customer).
_MAX_IN_FLIGHT = 16
# After an unexpected error (say, the database locked for longer than its timeout).
_ERROR_PAUSE_S = 1.0


class WebhookDispatcher:
    def __init__(self, engine: Engine, config: StoreWebhooks, *, abandon_after_s: float) -> None:
        self._engine = engine
        self._config = config
        self._abandon_after_s = abandon_after_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._http = httpx.AsyncClient(timeout=self._config.timeout_s, follow_redirects=False)
        self._task = asyncio.create_task(self._run(), name="store-webhooks")

    async def stop(self) -> None:
        """Stop at once: a delivery cut short stays pending and is sent after a restart."""
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
        """Look at the outbox now. Safe from any thread (write routes run in a pool)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                delay = await self._pass()
            except Exception as exc:  # the task must outlive any one failure
                # The type only: a database error's text may carry customers' data.
                log.warning("webhook dispatcher pass failed: %s", type(exc).__name__)
                delay = _ERROR_PAUSE_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.005))

    async def _pass(self) -> float:
        """Report abandoned checkouts, start due deliveries; returns how long to sleep."""
        now = time.time()
        reported = await asyncio.to_thread(
            abandoned.report_abandoned,
            self._engine,
            abandon_after_s=self._abandon_after_s,
            now=now,
        )
        if reported:
            log.info("reported %d abandoned checkouts", reported)
        room = _MAX_IN_FLIGHT - len(self._in_flight)
        if room > 0:
            rows = await asyncio.to_thread(
                outbox.due, self._engine, now, set(self._in_flight), room
            )
            for row in rows:
                self._in_flight[row.id] = asyncio.create_task(self._deliver(row))
        next_send = None
        if len(self._in_flight) < _MAX_IN_FLIGHT:
            # When full, a finishing delivery wakes the task: no spinning on due rows meanwhile.
            busy = set(self._in_flight)
            next_send = await asyncio.to_thread(outbox.next_due_ts, self._engine, busy)
        next_abandon = await asyncio.to_thread(
            abandoned.next_abandon_ts, self._engine, abandon_after_s=self._abandon_after_s
        )
        wake_at = min(
            [t for t in (next_send, next_abandon) if t is not None],
            default=now + self._config.poll_interval_s,
        )
        return min(wake_at - time.time(), self._config.poll_interval_s)

    async def _deliver(self, row: outbox.OutboxRow) -> None:
        try:
            attempt = await self._send(row)
            status = await asyncio.to_thread(
                outbox.record_attempt,
                self._engine,
                row.id,
                attempt,
                max_attempts=self._config.max_attempts,
                backoff_s=self._config.backoff_s(row.attempts + 1),
            )
            if status == outbox.FAILED:
                log.warning(
                    "gave up webhook %s (%s) after %d attempts: %s",
                    row.webhook_id,
                    row.topic,
                    row.attempts + 1,
                    attempt.error,
                )
        finally:
            self._in_flight.pop(row.id, None)
            self._wake.set()

    async def _send(self, row: outbox.OutboxRow) -> outbox.Attempt:
        assert self._http is not None
        body = row.body.encode()
        headers = webhook_headers(
            secret=self._config.secret,
            body=body,
            topic=row.topic,
            webhook_id=row.webhook_id,
            event_id=row.event_id,
            triggered_at=row.created_at,
        )
        try:
            response = await self._http.post(self._config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return outbox.Attempt(ok=False, error=type(exc).__name__)
        if response.is_success:
            return outbox.Attempt(ok=True, status_code=response.status_code)
        return outbox.Attempt(
            ok=False, status_code=response.status_code, error=f"HTTP {response.status_code}"
        )
