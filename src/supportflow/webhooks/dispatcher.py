"""The background task that delivers the outbox to tenants' endpoints (docs/webhooks.md).

Run by the worker process with the integrations role (``build_workers``), started and stopped
with its workers. The loop, the HTTP client and the POST are ``outbox_delivery.OutboxSender``'s
(shared with the demo store's webhooks); database work runs in threads. A write in this
process that put events in the outbox wakes the task (``notify``); otherwise it looks every
``poll_s`` (events written by other processes) or when a retry falls due. Several
dispatchers (worker processes) may run: each row is claimed by one.

Delivery is at least once: a row is marked after its answer, so a crash in between sends it
again after the claim's lease, with the same event id for the receiver to de-duplicate.
Each attempt is signed afresh (a new timestamp); the body is the same bytes every time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from supportflow.crypto.keyring import KeyRing
from supportflow.outbox_delivery import OutboxSender
from supportflow.settings import Settings
from supportflow.webhooks import endpoints, outbox
from supportflow.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header

log = logging.getLogger(__name__)

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


class WebhookDispatcher(OutboxSender):
    def __init__(
        self, sessions: sessionmaker[Session], keyring: KeyRing, policy: DeliveryPolicy
    ) -> None:
        super().__init__(name="outbound-webhooks", timeout_s=policy.timeout_s)
        self._sessions = sessions
        self._keyring = keyring
        self._policy = policy

    async def __aenter__(self) -> WebhookDispatcher:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _pass(self) -> float:
        """Start due deliveries; returns how long to sleep."""
        room = self._room
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
            self._spawn(row.id, self._deliver(row))
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

    async def _send(self, row: outbox.Claimed, url: str, secret: str) -> outbox.Attempt:
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
        return await self._post(url, body, headers)
