"""The background task that delivers the outbox and reports abandoned checkouts.

Started in the store app's lifespan and stopped on shutdown. The loop, the HTTP client and the
POST are ``outbox_delivery.OutboxSender``'s, shared with supportflow's own webhooks. Database
work runs in threads (SQLite calls block). A write that put rows in the outbox wakes the task
(``notify``); otherwise it sleeps until the next retry or abandonment falls due, at most
``poll_interval_s``. Deliveries of different customers run concurrently; a customer's next
event waits until the one before is delivered or given up.

Delivery is at least once: a row is marked after its answer, so a crash in between sends it
again, with the same ``X-Shopify-Webhook-Id`` for the receiver to de-duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import Engine

from supportflow.demo_store.webhooks import abandoned, outbox
from supportflow.demo_store.webhooks.config import StoreWebhooks
from supportflow.demo_store.webhooks.signing import webhook_headers
from supportflow.outbox_delivery import OutboxSender

log = logging.getLogger(__name__)


class WebhookDispatcher(OutboxSender):
    def __init__(self, engine: Engine, config: StoreWebhooks, *, abandon_after_s: float) -> None:
        super().__init__(name="store-webhooks", timeout_s=config.timeout_s)
        self._engine = engine
        self._config = config
        self._abandon_after_s = abandon_after_s

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
        room = self._room
        if room > 0:
            rows = await asyncio.to_thread(
                outbox.due, self._engine, now, set(self._in_flight), room
            )
            for row in rows:
                self._spawn(row.id, self._deliver(row))
        next_send = None
        if self._room > 0:
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

    async def _send(self, row: outbox.OutboxRow) -> outbox.Attempt:
        body = row.body.encode()
        headers = webhook_headers(
            secret=self._config.secret,
            body=body,
            topic=row.topic,
            webhook_id=row.webhook_id,
            event_id=row.event_id,
            triggered_at=row.created_at,
        )
        return await self._post(self._config.url, body, headers)
