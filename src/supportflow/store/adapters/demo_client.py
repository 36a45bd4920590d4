"""Async client for the demo store's HTTP API, for use from Temporal activities.

It lives with the adapters, not with the service (``supportflow.demo_store``): it is the demo
adapter's transport, the only way agents reach the demo store, and it needs nothing from the
service but its HTTP contract (``demo_store/README.md``), so the agents' side never imports
the service's code.

Failures come back as ``StoreNotFound`` / ``StoreRejected`` (permanent) or ``StoreUnavailable``
(transient: retry with the same idempotency key, and the store applies the write once).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any
from urllib.parse import quote

import httpx

from supportflow.store.adapters.http_backend import HttpBackend, error_field
from supportflow.store.errors import StoreNotFound, StoreRejected, StoreUnavailable
from supportflow.store.phones import e164_or_reject, only_account
from supportflow.store.port import DiscountSpec

Doc = dict[str, Any]

# Statuses worth retrying even though they are 4xx.
_TRANSIENT_4XX = frozenset({408, 425, 429})


class StoreClient(HttpBackend):
    backend = "store"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport))

    # -- reads ------------------------------------------------------------------------------

    async def health(self) -> bool:
        try:
            response = await self._http.get("/health")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def get_user(self, user_id: str) -> Doc | None:
        return await self._get_or_none(f"/users/{_segment(user_id)}")

    async def get_order(self, order_id: str) -> Doc | None:
        return await self._get_or_none(f"/orders/{_segment(order_id)}")

    async def get_product(self, product_id: str) -> Doc | None:
        return await self._get_or_none(f"/products/{_segment(product_id)}")

    async def get_hold(self, order_id: str) -> Doc:
        return await self._request("GET", f"/orders/{_segment(order_id)}/hold")

    async def find_users(
        self,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        zip: str | None = None,
        phone: str | None = None,
    ) -> list[Doc]:
        """Users matching email, or first_name + last_name + zip, or phone (give one)."""
        params = {
            k: v
            for k, v in {
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "zip": zip,
                "phone": phone,
            }.items()
            if v is not None
        }
        found: list[Doc] = (await self._request("GET", "/users", params=params))["users"]
        return found

    async def find_user_by_phone(self, phone_e164: str) -> Doc | None:
        """The user with this phone number (``GET /users?phone=``), or None (none, or
        several); a number that is not E.164 is refused here, the store never asked."""
        return only_account(await self.find_users(phone=e164_or_reject(phone_e164)))

    # -- writes -----------------------------------------------------------------------------

    async def cancel_order(self, order_id: str, reason: str, idempotency_key: str) -> Doc:
        return await self._write(
            f"/orders/{_segment(order_id)}/cancel", {"reason": reason}, idempotency_key
        )

    async def modify_order_address(
        self, order_id: str, address: Mapping[str, str], idempotency_key: str
    ) -> Doc:
        return await self._write(
            f"/orders/{_segment(order_id)}/address", dict(address), idempotency_key
        )

    async def modify_order_payment(
        self, order_id: str, payment_method_id: str, idempotency_key: str
    ) -> Doc:
        body = {"payment_method_id": payment_method_id}
        return await self._write(f"/orders/{_segment(order_id)}/payment", body, idempotency_key)

    async def modify_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
        idempotency_key: str,
    ) -> Doc:
        body = _swap(item_ids, new_item_ids, payment_method_id)
        return await self._write(f"/orders/{_segment(order_id)}/items", body, idempotency_key)

    async def return_order_items(
        self, order_id: str, item_ids: list[str], payment_method_id: str, idempotency_key: str
    ) -> Doc:
        body = {"item_ids": item_ids, "payment_method_id": payment_method_id}
        return await self._write(f"/orders/{_segment(order_id)}/return", body, idempotency_key)

    async def exchange_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
        idempotency_key: str,
    ) -> Doc:
        body = _swap(item_ids, new_item_ids, payment_method_id)
        return await self._write(f"/orders/{_segment(order_id)}/exchange", body, idempotency_key)

    async def modify_user_address(
        self, user_id: str, address: Mapping[str, str], idempotency_key: str
    ) -> Doc:
        return await self._write(
            f"/users/{_segment(user_id)}/address", dict(address), idempotency_key
        )

    # Cancel saga steps: hold (compensate with release) -> refund (irreversible) -> cancel.

    async def hold_order(
        self, order_id: str, idempotency_key: str, *, reason: str | None = None
    ) -> Doc:
        return await self._write(
            f"/orders/{_segment(order_id)}/hold", {"reason": reason}, idempotency_key
        )

    async def release_order(
        self, order_id: str, idempotency_key: str, hold_idempotency_key: str | None = None
    ) -> Doc:
        """Undo a hold. Pass the hold's key so that a hold still in flight never applies."""
        body = {"hold_idempotency_key": hold_idempotency_key} if hold_idempotency_key else None
        return await self._write(f"/orders/{_segment(order_id)}/release", body, idempotency_key)

    async def refund_order(
        self,
        order_id: str,
        idempotency_key: str,
        *,
        amount: float | None = None,
        payment_method_id: str | None = None,
    ) -> Doc:
        body = {"amount": amount, "payment_method_id": payment_method_id}
        return await self._write(f"/orders/{_segment(order_id)}/refund", body, idempotency_key)

    # -- plumbing ---------------------------------------------------------------------------

    async def _get_or_none(self, path: str) -> Doc | None:
        try:
            return await self._request("GET", path)
        except StoreNotFound:
            return None

    async def _write(self, path: str, body: Doc | None, idempotency_key: str) -> Doc:
        return await self._request(
            "POST", path, json=body, headers={"Idempotency-Key": idempotency_key}
        )

    async def _request(self, method: str, path: str, **kwargs: Any) -> Doc:
        response = await self._send(method, path, **kwargs)
        if response.is_success:
            body: Doc = response.json()
            return body
        raise _error_for(response)

    # -- sales (issue 14) -------------------------------------------------------------------

    async def create_discount_code(self, spec: DiscountSpec, idempotency_key: str) -> Doc:
        """``POST /discount_codes``; the same key gives the same code back. A time without a
        zone is read as UTC (the store does the same)."""
        expires = spec.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        body: Doc = {
            "kind": spec.kind,
            "value": spec.value,
            "expires_at": expires.astimezone(UTC).isoformat(),
            "usage_limit": spec.usage_limit,
        }
        if spec.customer_id is not None:
            body["customer_id"] = spec.customer_id
        if spec.code is not None:
            body["code"] = spec.code
        return await self._write("/discount_codes", body, idempotency_key)

    async def get_discount_code(self, code: str) -> Doc | None:
        """The code with its usage count and ``expired`` flag, or None."""
        return await self._get_or_none(f"/discount_codes/{_segment(code)}")

    async def get_checkout(self, checkout_id: str) -> Doc | None:
        return await self._get_or_none(f"/checkouts/{_segment(checkout_id)}")

    # The demo store's own sales calls (not in the port): what tests and the simulator use to
    # act as a shopper and as the carrier.

    async def create_checkout(
        self,
        user_id: str,
        items: Mapping[str, int],
        idempotency_key: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        accepts_email_marketing: bool = False,
        accepts_sms_marketing: bool = False,
        discount_code: str | None = None,
    ) -> Doc:
        """A checkout of ``items`` (item id -> quantity) for ``user_id``."""
        body: Doc = {
            "user_id": user_id,
            "items": [{"item_id": i, "quantity": q} for i, q in items.items()],
            "accepts_email_marketing": accepts_email_marketing,
            "accepts_sms_marketing": accepts_sms_marketing,
        }
        optional = {"email": email, "phone": phone, "discount_code": discount_code}
        body.update({k: v for k, v in optional.items() if v is not None})
        return await self._write("/checkouts", body, idempotency_key)

    async def complete_checkout(
        self,
        checkout_id: str,
        payment_method_id: str,
        idempotency_key: str,
        *,
        discount_code: str | None = None,
    ) -> Doc:
        """Place the checkout's order; returns the order."""
        body: Doc = {"payment_method_id": payment_method_id}
        if discount_code is not None:
            body["discount_code"] = discount_code
        path = f"/checkouts/{_segment(checkout_id)}/complete"
        return await self._write(path, body, idempotency_key)

    async def deliver_order(self, order_id: str, idempotency_key: str) -> Doc:
        """The carrier delivers the order (the store sends fulfillments/update)."""
        return await self._write(f"/orders/{_segment(order_id)}/deliver", None, idempotency_key)


def _segment(value: str) -> str:
    # '#' (order ids) would start a URL fragment and '/' a new segment: encode everything.
    return quote(value, safe="")


def _error_for(response: httpx.Response) -> Exception:
    status = response.status_code
    detail = error_field(response, "detail")
    if detail is None:
        detail = response.text
    message = f"{response.request.method} {response.request.url.path}: {status} {detail}"
    if status >= 500 or status in _TRANSIENT_4XX:
        return StoreUnavailable(message, status_code=status)
    if status == 404:
        return StoreNotFound(message, status_code=status)
    return StoreRejected(message, status_code=status)


def _swap(item_ids: list[str], new_item_ids: list[str], payment_method_id: str) -> Doc:
    """The body of an item change or exchange: these items for those variants, paid so."""
    return {
        "item_ids": item_ids,
        "new_item_ids": new_item_ids,
        "payment_method_id": payment_method_id,
    }
