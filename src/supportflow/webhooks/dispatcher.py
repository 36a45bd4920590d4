"""The background task that delivers the outbox to tenants' endpoints (docs/webhooks.md).

Run by the worker process with the integrations role (``build_workers``), started and stopped
with its workers. One ``httpx.AsyncClient`` for every delivery; database work runs in
threads. A write in this process that put events in the outbox wakes the task (``notify``);
otherwise it looks every ``poll_s`` (events written by other processes) or when a retry
falls due. Several dispatchers (worker processes) may run: each row is claimed by one.

Delivery is at least once: a row is marked after its answer, so a crash in between sends it
again after the claim's lease, with the same event id for the receiver to de-duplicate.
Each attempt is signed afresh (a new timestamp); the body is the same bytes every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session, sessionmaker

from supportflow.crypto.keyring import KeyRing
from supportflow.settings import Settings
from supportflow.webhooks import endpoints, outbox
from supportflow.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header

log = logging.getLogger(__name__)

# Concurrent deliveries at most.
_MAX_IN_FLIGHT = 16
# After an unexpected error (say, the database locked for longer than its timeout).
_ERROR_PAUSE_S = 1.0
# A claim outlives the delivery's timeout by this much before another dispatcher may take it.
_LEASE_MARGIN_S = 30.0
USER_AGENT = "supportflow-webhooks/1"


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_s: float = 10.0
    max_attempts: int = 10
    backoff_s: float = 10.0
    backoff_max_s: float = 3600.0
    poll_s: float = 2.0
    # Checked again at each delivery (the URL was checked when set; settings may change).
    allow_http: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            timeout_s=settings.outbound_webhook_timeout_seconds,
            max_attempts=settings.outbound_webhook_max_attempts,
            backoff_s=settings.outbound_webhook_backoff_seconds,
            backoff_max_s=settings.outbound_webhook_backoff_max_seconds,
            poll_s=settings.outbound_webhook_poll_seconds,
            allow_http=settings.outbound_webhook_allow_http,
        )

    def backoff(self, failed_attempts: int) -> float:
        """The wait after the n-th failed attempt: backoff * 2^(n-1), capped."""
        exponent = min(max(failed_attempts - 1, 0), 30)
        return float(min(self.backoff_s * (2**exponent), self.backoff_max_s))


class WebhookDispatcher:
    def __init__(
        self, sessions: sessionmaker[Session], keyring: KeyRing, policy: DeliveryPolicy
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._policy = policy
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._stopping = False

    async def __aenter__(self) -> WebhookDispatcher:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        # No redirects: a receiver's 3xx is a failed attempt, never a hop to another host.
        self._http = httpx.AsyncClient(timeout=self._policy.timeout_s, follow_redirects=False)
        self._task = asyncio.create_task(self._run(), name="outbound-webhooks")

    async def stop(self) -> None:
        """Stop at once: a delivery cut short stays claimed until its lease ends, then is
        sent again (by this process after a restart, or another one)."""
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
        """Look at the outbox now. Safe from any thread (sync activities run in a pool)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                delay = await self._pass()
            except Exception as exc:  # the task must outlive any one failure
                # The type only: a database error's text may carry data.
                log.warning("webhook dispatcher pass failed: %s", type(exc).__name__)
                delay = _ERROR_PAUSE_S
            # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that comes
            # as the wake-up event is set (a delivery cancelled by stop() sets it), and this
            # loop would then never end.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(delay, 0.005)):
                    await self._wake.wait()

    async def _pass(self) -> float:
        """Start due deliveries; returns how long to sleep."""
        room = _MAX_IN_FLIGHT - len(self._in_flight)
        if room <= 0:
            return self._policy.poll_s  # a finishing delivery wakes the task: no spinning
        rows = await asyncio.to_thread(
            outbox.claim_due,
            self._sessions,
            now=time.time(),
            limit=room,
            lease_s=self._policy.timeout_s + _LEASE_MARGIN_S,
        )
        for row in rows:
            self._in_flight[row.id] = asyncio.create_task(self._deliver(row))
        if rows and len(rows) == room:
            return self._policy.poll_s  # full: a finishing delivery wakes the task
        next_due = await asyncio.to_thread(outbox.next_due, self._sessions)
        if next_due is None:
            return self._policy.poll_s
        return min(max(next_due - time.time(), 0.0), self._policy.poll_s)

    async def _deliver(self, row: outbox.Claimed) -> None:
        try:
            target = await asyncio.to_thread(
                endpoints.delivery_target, self._sessions, self._keyring, row.tenant_id
            )
            if target is None:
                await asyncio.to_thread(outbox.give_up, self._sessions, row, "no endpoint")
                return
            attempt = await self._send(row, *target)
            status = await asyncio.to_thread(
                outbox.record_attempt,
                self._sessions,
                row,
                attempt,
                max_attempts=self._policy.max_attempts,
                backoff_s=self._policy.backoff(row.attempts + 1),
            )
            if status == outbox.FAILED:
                log.warning(
                    "gave up webhook event %s of tenant %s after %d attempts: %s",
                    row.event_id,
                    row.tenant_id,
                    row.attempts + 1,
                    attempt.error,
                )
        except Exception as exc:  # the row stays claimed; its lease ends and it is sent again
            log.warning("webhook delivery of %s failed: %s", row.event_id, type(exc).__name__)
        finally:
            self._in_flight.pop(row.id, None)
            self._wake.set()

    async def _send(self, row: outbox.Claimed, url: str, secret: str) -> outbox.Attempt:
        assert self._http is not None
        try:
            endpoints.check_url(url, allow_http=self._policy.allow_http)
        except endpoints.InvalidWebhookUrl:
            return outbox.Attempt(ok=False, error="url refused")
        body = row.body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: row.event_id,
            SIGNATURE_HEADER: signature_header(secret, body),
        }
        try:
            response = await self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return outbox.Attempt(ok=False, error=type(exc).__name__)
        if response.is_success:
            return outbox.Attempt(ok=True, status_code=response.status_code)
        return outbox.Attempt(
            ok=False, status_code=response.status_code, error=f"HTTP {response.status_code}"
        )
