"""Writes to a shop, each at most once per idempotency key.

Shopify's mutations take no idempotency key in general, so the adapter reads before it writes
and recognises its own earlier writes:

- cancel: an order whose ``cancelledAt`` is set is returned as is (a retry is a no-op). After
  ``orderCancel`` the adapter polls the returned ``job`` until ``done`` (bounded by
  ``job_timeout``); if the job is still running then, it raises ``StoreUnavailable``, and the
  retry finds the order cancelled. A user error on a retry is checked against a fresh read:
  an order that is cancelled by now counts as success.
- refund: each refund carries ``[supportflow:<idempotency key>]`` in its ``note``; before
  ``refundCreate`` the adapter looks for a refund with that marker and, when one exists,
  returns the order without refunding again. The key itself is the marker, so the check holds
  across processes and restarts. (Two concurrent calls with one key could both miss the marker;
  Temporal runs an activity's attempts one after another, so that does not arise.)
- address: ``orderUpdate`` sets the address, which is idempotent by nature; an order already
  at the requested address is not written at all.
- hold (the cancel saga's first step): ``fulfillmentOrderHold`` on each of the order's open
  fulfillment orders, with the hold's ``handle`` derived from the idempotency key
  (``sf-<sha256>``). Before holding, the adapter reads the order's fulfillment orders and
  skips those that already carry a hold with that handle, so a retry holds nothing twice.
- release (the hold's compensation): ``fulfillmentOrderReleaseHold`` with the ``holdIds`` of
  the holds carrying the hold key's handle, and only those (never a merchant's own holds). No
  such hold: nothing to release, a no-op. Unlike the demo store, Shopify cannot fence a hold
  that reaches it after its release; Temporal runs a step's attempts one after another and
  the saga compensates only once the hold activity has finished, so that needs a hold request
  lost in the network and delivered late, which the adapter cannot rule out.
- cancel with ``refund_on_cancel=False`` (how the registry builds it, since the cancel saga
  refunds first): ``orderCancel(refund: false, restock: true)``, so the refund already made is
  not repeated; the "already cancelled" check above makes it at-most-once.

``userErrors`` / ``orderCancelUserErrors`` -> ``StoreRejected``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from supportflow.store.adapters.shopify.fields import (
    Doc,
    cents_text,
    dicts,
    money,
    nodes,
    path,
    to_cents,
    user_errors,
)
from supportflow.store.adapters.shopify.mapping import PAYMENT_KINDS, map_order, normalize_address
from supportflow.store.adapters.shopify.queries import (
    M_CANCEL,
    M_CANCEL_WITHOUT_REFUND,
    M_HOLD,
    M_ORDER_UPDATE,
    M_REFUND,
    M_RELEASE,
    Q_JOB,
)
from supportflow.store.adapters.shopify.reads import ShopifyReads
from supportflow.store.errors import StoreRejected, StoreUnavailable
from supportflow.store.port import CANCEL_REASONS, REFUND_APPLIED, StoreThrottled

log = logging.getLogger(__name__)

HOLD_HANDLE_PREFIX = "sf-"
# Fulfillment orders that can take a hold (ON_HOLD ones can take more since API 2025-01).
_HOLDABLE = frozenset({"OPEN", "ON_HOLD", "SCHEDULED"})
# Both of our cancel reasons are the customer's wish; the words go into the staff note.
_CANCEL_REASON_ENUM = {reason: "CUSTOMER" for reason in CANCEL_REASONS}


@dataclass(frozen=True)
class WriteOptions:
    """How writes behave: whom Shopify notifies, restocking, and the cancel job's polling."""

    notify_customer: bool = False
    restock: bool = True
    refund_on_cancel: bool = True
    job_poll_interval: float = 0.5
    job_poll_max_interval: float = 5.0
    job_timeout: float = 30.0


class ShopifyWrites(ShopifyReads):
    # The defaults; ``ShopifyAdapter`` sets its own per instance.
    _options: WriteOptions = WriteOptions()

    async def cancel_order(self, order_id: str, reason: str, idempotency_key: str) -> Doc:
        if reason not in _CANCEL_REASON_ENUM:
            raise StoreRejected(f"reason must be one of {list(CANCEL_REASONS)}", status_code=422)
        node = await self._require_order(order_id)
        if node.get("cancelledAt"):
            log.info("shopify order %s already cancelled; nothing to do", node.get("name"))
            return map_order(node)
        variables: dict[str, Any] = {
            "orderId": node["id"],
            "reason": _CANCEL_REASON_ENUM[reason],
            "restock": self._options.restock,
            "notifyCustomer": self._options.notify_customer,
            "staffNote": f"supportflow: {reason} {_marker(idempotency_key)}",
        }
        if self._options.refund_on_cancel:
            variables["refundMethod"] = {"originalPaymentMethodsRefund": True}
            mutation = M_CANCEL
        else:
            variables["refund"] = False  # the cancel saga refunded before this step
            mutation = M_CANCEL_WITHOUT_REFUND
        payload = (await self.graphql(mutation, variables)).get("orderCancel") or {}
        errors = user_errors(payload, "orderCancelUserErrors", "userErrors")
        if errors:
            after = await self._require_order(order_id)
            if after.get("cancelledAt"):
                return map_order(after)  # a retry that raced its own earlier attempt
            raise StoreRejected(f"Shopify refused to cancel {node.get('name')}: {errors}")
        job = payload.get("job")
        if isinstance(job, dict) and job.get("id") and not job.get("done"):
            await self._wait_for_job(str(job["id"]), what=f"cancel of {node.get('name')}")
        after = await self._require_order(order_id)
        if not after.get("cancelledAt"):
            raise StoreRejected(
                f"Shopify finished the cancel job for {node.get('name')} "
                "but the order is not cancelled"
            )
        return map_order(after)

    async def refund_order(
        self,
        order_id: str,
        idempotency_key: str,
        *,
        amount: float | None = None,
        payment_method_id: str | None = None,
    ) -> Doc:
        """Refund ``amount`` (default: all that is outstanding) to the original transactions,
        or only to those of gateway ``payment_method_id``."""
        node = await self._require_order(order_id)
        marker = _marker(idempotency_key)
        if _has_refund_marked(node, marker):
            log.info("refund %s on %s already made; nothing to do", marker, node.get("name"))
            return _refunded(node, marker)
        refundable = _refundable(node, payment_method_id)
        wanted = sum(c for _, _, c in refundable) if amount is None else to_cents(amount)
        if wanted <= 0:
            raise StoreRejected(f"nothing left to refund on order {node.get('name')}")
        transactions = []
        remaining = wanted
        for parent_id, gateway, available in refundable:
            take = min(available, remaining)
            if take <= 0:
                break
            transactions.append(
                {
                    "orderId": node["id"],
                    "parentId": parent_id,
                    "gateway": gateway,
                    "kind": "REFUND",
                    "amount": cents_text(take),
                }
            )
            remaining -= take
        if remaining > 0:
            raise StoreRejected(
                f"refund of {cents_text(wanted)} exceeds what was paid "
                f"(by {payment_method_id or 'the original methods'}) for order {node.get('name')}"
            )
        refund_input = {
            "orderId": node["id"],
            "note": f"supportflow refund {marker}",
            "notify": self._options.notify_customer,
            "transactions": transactions,
        }
        payload = (await self.graphql(M_REFUND, {"input": refund_input})).get("refundCreate") or {}
        errors = user_errors(payload, "userErrors")
        if errors:
            after = await self._require_order(order_id)
            if _has_refund_marked(after, marker):
                return _refunded(after, marker)
            raise StoreRejected(f"Shopify refused the refund on {node.get('name')}: {errors}")
        return _refunded(await self._require_order(order_id), marker)

    async def modify_order_address(
        self, order_id: str, address: Mapping[str, str], idempotency_key: str
    ) -> Doc:
        """Change the shipping address of a pending (unfulfilled, not cancelled) order."""
        node, order = await self._pending_order(order_id, "cannot change its address")
        wanted = normalize_address(address)
        if order.get("address") == wanted:
            return order
        current = node.get("shippingAddress") or {}
        shipping = {
            # Keep who and how to reach them; replace where.
            **{
                k: current[k]
                for k in ("firstName", "lastName", "company", "phone")
                if current.get(k)
            },
            "address1": wanted["address1"],
            "address2": wanted["address2"],
            "city": wanted["city"],
            "provinceCode": wanted["state"],
            "countryCode": wanted["country"],
            "zip": wanted["zip"],
        }
        variables = {"input": {"id": node["id"], "shippingAddress": shipping}}
        payload = (await self.graphql(M_ORDER_UPDATE, variables)).get("orderUpdate") or {}
        errors = user_errors(payload, "userErrors")
        if errors:
            raise StoreRejected(f"Shopify refused the address of {order['order_id']}: {errors}")
        return map_order(await self._require_order(order_id))

    async def hold_order(
        self, order_id: str, idempotency_key: str, *, reason: str | None = None
    ) -> Doc:
        """Hold every open fulfillment order of a pending order (see the module's notes)."""
        node, order = await self._pending_order(order_id, "only a pending order is held")
        handle = hold_handle(idempotency_key)
        held = 0
        for fo in nodes(node.get("fulfillmentOrders")):
            if _has_hold(fo, handle):
                held += 1  # an earlier attempt with this key placed it
                continue
            if fo.get("status") not in _HOLDABLE:
                continue
            variables = {
                "id": fo["id"],
                "fulfillmentHold": {
                    "reason": "OTHER",
                    "reasonNotes": f"supportflow: cancellation requested ({reason or 'customer'})",
                    "handle": handle,
                    "notifyMerchant": False,
                },
            }
            payload = (await self.graphql(M_HOLD, variables)).get("fulfillmentOrderHold") or {}
            errors = user_errors(payload, "userErrors")
            if errors:
                again = await self._require_order(order_id)
                if not any(_has_hold(f, handle) for f in nodes(again.get("fulfillmentOrders"))):
                    raise StoreRejected(
                        f"Shopify refused to hold {order['order_id']}: {errors}", status_code=409
                    )
            held += 1
        if held == 0:
            raise StoreRejected(f"order {order['order_id']} has no open fulfillment order to hold")
        return map_order(await self._require_order(order_id))

    async def release_order(
        self, order_id: str, idempotency_key: str, hold_idempotency_key: str | None = None
    ) -> Doc:
        """Release the holds this adapter placed with ``hold_idempotency_key`` (all of its own
        holds when none is given); a no-op when there are none."""
        node = await self._require_order(order_id)
        handle = hold_handle(hold_idempotency_key) if hold_idempotency_key else None
        for fo in nodes(node.get("fulfillmentOrders")):
            hold_ids = [
                str(h["id"])
                for h in dicts(fo.get("fulfillmentHolds"))
                if h.get("id")
                and (
                    h.get("handle") == handle
                    if handle
                    else str(h.get("handle") or "").startswith(HOLD_HANDLE_PREFIX)
                )
            ]
            if not hold_ids:
                continue
            variables = {"id": fo["id"], "holdIds": hold_ids}
            payload = (await self.graphql(M_RELEASE, variables)).get(
                "fulfillmentOrderReleaseHold"
            ) or {}
            errors = user_errors(payload, "userErrors")
            if errors:
                raise StoreRejected(f"Shopify refused to release {node.get('name')}: {errors}")
        return map_order(await self._require_order(order_id))

    async def _pending_order(self, order_id: str, refusal: str) -> tuple[Doc, Doc]:
        """The order's node and its mapped document; refused (with ``refusal`` said why)
        unless the order is pending."""
        node = await self._require_order(order_id)
        order = map_order(node)
        if order["status"] != "pending":
            raise StoreRejected(f"order {order['order_id']} is {order['status']}; {refusal}")
        return node, order

    async def _wait_for_job(self, job_id: str, *, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._options.job_timeout
        interval = self._options.job_poll_interval
        most = max(self._options.job_poll_max_interval, interval)
        while True:
            await asyncio.sleep(interval)
            try:
                job = (await self.graphql(Q_JOB, {"id": job_id})).get("job")
            except StoreUnavailable as exc:
                # The cancel is under way whatever happens to one poll: keep waiting.
                log.info("polling Shopify job for the %s: %s", what, exc.detail)
                if isinstance(exc, StoreThrottled) and exc.retry_after:
                    interval = max(interval, min(exc.retry_after, most))
            else:
                if not isinstance(job, dict) or job.get("done"):
                    return  # a finished job may be gone: the caller re-reads the order anyway
            if loop.time() + interval > deadline:
                raise StoreUnavailable(
                    f"Shopify is still running the {what} after {self._options.job_timeout:g}s; "
                    "retry with the same idempotency key"
                )
            interval = min(interval * 1.5, most)


def hold_handle(idempotency_key: str) -> str:
    """The ``handle`` of the fulfillment hold made with this key: short, stable, ours."""
    return HOLD_HANDLE_PREFIX + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def _has_hold(fulfillment_order: Mapping[str, Any], handle: str) -> bool:
    return any(h.get("handle") == handle for h in dicts(fulfillment_order.get("fulfillmentHolds")))


def _marker(idempotency_key: str) -> str:
    return f"[supportflow:{idempotency_key}]"


def _has_refund_marked(node: Mapping[str, Any], marker: str) -> bool:
    return any(marker in (r.get("note") or "") for r in dicts(node.get("refunds")))


def _refunded(node: Mapping[str, Any], marker: str) -> Doc:
    """The order after a refund, with what the refund marked ``marker`` applied (Shopify's
    own total of it) under ``REFUND_APPLIED``."""
    marked = [r for r in dicts(node.get("refunds")) if marker in (r.get("note") or "")]
    order = map_order(node)
    if marked:
        order[REFUND_APPLIED] = sum(money(r.get("totalRefundedSet")) for r in marked)
    return order


def _refundable(node: Mapping[str, Any], gateway: str | None) -> list[tuple[str, str, int]]:
    """(transaction id, gateway, cents still refundable) per successful payment transaction,
    optionally of one gateway only."""
    transactions = dicts(node.get("transactions"))
    refunded: dict[str, int] = {}
    for t in transactions:
        parent = path(t, "parentTransaction", "id")
        if t.get("kind") == "REFUND" and t.get("status") == "SUCCESS" and parent:
            refunded[parent] = refunded.get(parent, 0) + to_cents(money(t.get("amountSet")))
    available = []
    for t in transactions:
        if t.get("kind") not in PAYMENT_KINDS or t.get("status") != "SUCCESS":
            continue
        if gateway is not None and t.get("gateway") != gateway:
            continue
        left = to_cents(money(t.get("amountSet"))) - refunded.get(str(t["id"]), 0)
        if left > 0:
            available.append((str(t["id"]), str(t.get("gateway")), left))
    return available
