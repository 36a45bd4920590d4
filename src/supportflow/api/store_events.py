"""A store's webhook, checked and acted on (issue 14).

Checked: the HMAC over the raw body with the tenant's store webhook secret (forged, unsigned
or for an unknown tenant: 401, nothing recorded or started); the event id seen once
(``store_webhook_events``: a redelivery is acknowledged with the first outcome, and changes
nothing). Acted on:

- a checkout (created, abandoned): the customer's consent at checkout recorded; the
  abandoned-checkout SalesAgentWorkflow started (once per checkout; a later event for it
  starts nothing new);
- an order created: attributed to the customer's latest sales touch within the tenant's
  window (a conversion), and the checkout's reminder told at once that it was bought;
- an order delivered: the post-purchase SalesAgentWorkflow started;
- a guest (no customer account), a topic we do not act on, sales turned off: acknowledged
  with why, nothing started.

If Temporal cannot take the start or signal, the event is forgotten again and the store gets
503, so its own retry delivers it later: nothing is lost and nothing is done twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from supportflow.crypto.keyring import KeyRing
from supportflow.db.models import StoreWebhookEvent
from supportflow.policy.store import PolicyStore
from supportflow.sales import consent, touches
from supportflow.settings import Settings
from supportflow.store.events import StoreEvent, StoreEventKind
from supportflow.store.registry import PortSource
from supportflow.store.webhooks import (
    IgnoredEvent,
    UnsupportedTopic,
    UnusableEvent,
    parse_store_event,
    verify_store_hmac,
)
from supportflow.tenants.store_webhooks import store_webhook_secret
from supportflow.workflows.sales import SalesAgentWorkflow
from supportflow.workflows.sales_contract import (
    OrderPlaced,
    SalesAgentInput,
    SalesKind,
    sales_workflow_id,
)

log = logging.getLogger(__name__)

MAX_EVENT_ID = 100


class Forged(Exception):
    """No tenant, no secret, or a signature that does not match: 401."""


class BadEvent(ValueError):
    """Signed but unusable (no event id, not JSON, missing fields): 400/422."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class TemporalUnavailable(Exception):
    """The start or signal failed: 503, the event forgotten so the store delivers it again."""


@dataclass(frozen=True)
class Outcome:
    event_id: str
    outcome: str
    duplicate: bool = False


@dataclass
class StoreEventIngestor:
    sessions: sessionmaker[Session]
    keyring: KeyRing
    temporal: Client
    settings: Settings
    stores: PortSource | None = None

    async def receive(self, tenant_id: str, headers: dict[str, str], raw: bytes) -> Outcome:
        secret = await run_in_threadpool(
            store_webhook_secret, self.sessions, self.keyring, tenant_id
        )
        if secret is None or not verify_store_hmac(
            secret.encode(), raw, headers.get("x-shopify-hmac-sha256")
        ):
            raise Forged()
        event_id = (headers.get("x-shopify-webhook-id") or "").strip()
        topic = (headers.get("x-shopify-topic") or "").strip()
        if not event_id or len(event_id) > MAX_EVENT_ID:
            raise BadEvent("X-Shopify-Webhook-Id is missing or too long", 400)
        if not topic or len(topic) > 64:
            raise BadEvent("X-Shopify-Topic is missing or too long", 400)
        seen = await run_in_threadpool(_claim, self.sessions, tenant_id, event_id, topic)
        if seen is not None:
            return Outcome(event_id=event_id, outcome=seen, duplicate=True)
        try:
            outcome = await self._act(tenant_id, topic, event_id, raw)
        except TemporalUnavailable:
            await run_in_threadpool(_forget, self.sessions, tenant_id, event_id)
            raise
        except BadEvent as err:
            await run_in_threadpool(
                _settle, self.sessions, tenant_id, event_id, f"rejected:{err.status}"
            )
            raise
        except BaseException:
            await run_in_threadpool(_forget, self.sessions, tenant_id, event_id)
            raise
        await run_in_threadpool(_settle, self.sessions, tenant_id, event_id, outcome)
        log.info("store event %s (tenant %s): %s", topic, tenant_id, outcome)
        return Outcome(event_id=event_id, outcome=outcome)

    async def _act(self, tenant_id: str, topic: str, event_id: str, raw: bytes) -> str:
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BadEvent("the body is not JSON", 400) from None
        if not isinstance(payload, dict):
            raise BadEvent("the body is not a JSON object", 400)
        try:
            event = parse_store_event(topic, event_id, payload, received_at=datetime.now(UTC))
        except UnsupportedTopic:
            return "ignored:topic"
        except IgnoredEvent as err:
            return f"ignored:{str(err)[:50]}".replace(" ", "_")
        except UnusableEvent as err:
            raise BadEvent(str(err)) from None
        if event.kind in (StoreEventKind.CHECKOUT_CREATED, StoreEventKind.CHECKOUT_ABANDONED):
            return await self._checkout(tenant_id, event)
        if event.kind == StoreEventKind.ORDER_CREATED:
            return await self._order(tenant_id, event)
        if event.kind == StoreEventKind.ORDER_DELIVERED:
            return await self._delivered(tenant_id, event)
        return "ignored:nothing_to_do"

    async def _checkout(self, tenant_id: str, event: StoreEvent) -> str:
        if event.customer_id is None or event.checkout_id is None:
            return "ignored:guest"
        await run_in_threadpool(self._record_consent, tenant_id, event)
        policy = (await run_in_threadpool(PolicyStore(self.sessions).get, tenant_id)).sales
        if not (policy.enabled and policy.abandoned_checkout.enabled):
            return "ignored:sales_off"
        return await self._start(
            tenant_id, event.customer_id, "abandoned_checkout", event.checkout_id, event
        )

    async def _order(self, tenant_id: str, event: StoreEvent) -> str:
        if event.customer_id is None or event.order_id is None:
            return "ignored:guest"
        await run_in_threadpool(self._record_consent, tenant_id, event)
        policy = (await run_in_threadpool(PolicyStore(self.sessions).get, tenant_id)).sales

        def attribute(touch_id: str | None) -> str | None:
            return touches.attribute_order(
                self.sessions,
                tenant_id=tenant_id,
                store_user_id=str(event.customer_id),
                order_id=str(event.order_id),
                amount=event.total or Decimal(0),
                placed_at=event.occurred_at,
                window=policy.attribution_window,
                touch_id=touch_id,
            )

        converted: str | None = None
        told = False
        if event.checkout_id is not None:
            # Placed from a checkout with its own reminder: that touch converts (once it is
            # written; if not yet, the reminder, told below, records it itself).
            wf_id = sales_workflow_id(
                tenant_id, event.customer_id, "abandoned_checkout", event.checkout_id
            )
            converted = await run_in_threadpool(attribute, wf_id)
            told = await self._signal_order(wf_id, event)
        if converted is None and not told:
            # No reminder of its own: the customer's latest touch in the window.
            converted = await run_in_threadpool(attribute, None)
        parts = ["order"]
        if converted:
            parts.append("converted")
        if told:
            parts.append("reminder_stopped")
        return ":".join(parts)

    async def _delivered(self, tenant_id: str, event: StoreEvent) -> str:
        if event.order_id is None:
            raise BadEvent("a delivery without an order id")
        customer = event.customer_id
        if customer is None and self.stores is not None:
            port = await self.stores.port_for(tenant_id)
            order = await port.get_order(event.order_id)
            customer = None if order is None else str(order.get("user_id") or "") or None
        if customer is None:
            return "ignored:guest"
        policy = (await run_in_threadpool(PolicyStore(self.sessions).get, tenant_id)).sales
        if not (policy.enabled and policy.post_purchase.enabled):
            return "ignored:sales_off"
        return await self._start(tenant_id, customer, "post_purchase", event.order_id, event)

    def _record_consent(self, tenant_id: str, event: StoreEvent) -> None:
        assert event.customer_id is not None
        # Consent given at checkout is recorded; an unticked box withdraws nothing given
        # elsewhere (withdrawal is the unsubscribe link, STOP, or an operator).
        for channel, given in (
            ("email", event.accepts_email_marketing),
            ("sms", event.accepts_sms_marketing),
        ):
            if given:
                consent.set_consent(
                    self.sessions,
                    tenant_id,
                    event.customer_id,
                    channel,  # type: ignore[arg-type]
                    granted=True,
                    source="checkout",
                    at=event.occurred_at,
                )

    async def _start(
        self,
        tenant_id: str,
        customer: str,
        kind: SalesKind,
        subject_id: str,
        event: StoreEvent,
    ) -> str:
        wf_id = sales_workflow_id(tenant_id, customer, kind, subject_id)
        try:
            await self.temporal.start_workflow(
                SalesAgentWorkflow.run,
                SalesAgentInput(
                    tenant_id=tenant_id,
                    store_user_id=customer,
                    kind=kind,
                    subject_id=subject_id,
                    began_at=event.occurred_at,
                    integrations_queue=self.settings.task_queue_integrations,
                ),
                id=wf_id,
                task_queue=self.settings.task_queue_agents,
                # A later event for the same checkout (an update, the abandoned mark) joins the
                # running opportunity; one that finished is never begun again (one message).
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return f"exists:{kind}"
        except RPCError as err:
            raise TemporalUnavailable(str(err)) from err
        # Started, or the running one joined: either way one opportunity.
        return f"started:{kind}"

    async def _signal_order(self, wf_id: str, event: StoreEvent) -> bool:
        handle: WorkflowHandle[SalesAgentWorkflow, object] = self.temporal.get_workflow_handle(
            wf_id
        )
        assert event.order_id is not None
        try:
            await handle.signal(
                SalesAgentWorkflow.order_placed,
                OrderPlaced(
                    order_id=event.order_id,
                    total=event.total or Decimal(0),
                    placed_at=event.occurred_at,
                ),
            )
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                return False  # no reminder for this checkout, or it already finished
            raise TemporalUnavailable(str(err)) from err
        return True


def _claim(
    sessions: sessionmaker[Session], tenant_id: str, event_id: str, topic: str
) -> str | None:
    """Record the event as being handled; its earlier outcome if it was seen before."""
    try:
        with sessions.begin() as s:
            s.add(
                StoreWebhookEvent(
                    tenant_id=tenant_id, event_id=event_id, topic=topic, outcome="handling"
                )
            )
    except IntegrityError:
        with sessions() as s:
            row = s.get(StoreWebhookEvent, (tenant_id, event_id))
            return "handling" if row is None else row.outcome
    return None


def _settle(sessions: sessionmaker[Session], tenant_id: str, event_id: str, outcome: str) -> None:
    with sessions.begin() as s:
        row = s.get(StoreWebhookEvent, (tenant_id, event_id))
        if row is not None:
            row.outcome = outcome[:64]


def _forget(sessions: sessionmaker[Session], tenant_id: str, event_id: str) -> None:
    with sessions.begin() as s:
        row = s.get(StoreWebhookEvent, (tenant_id, event_id))
        if row is not None:
            s.delete(row)
