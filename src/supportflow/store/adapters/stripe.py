"""Refunds on Stripe, over its REST API (httpx, no SDK).

For stores whose payments run through Stripe directly: a procedure that refunds money calls
``create_refund`` with the order's payment intent. Stripe has real idempotency keys, so the
adapter passes ours through as the ``Idempotency-Key`` header: a retry with the same key and
the same parameters gets the first refund back (Stripe replays the saved response for 24
hours), the same key with other parameters is refused (``idempotency_error``, here
``IdempotencyKeyReused``). The refund's metadata also carries the key, for the audit trail.

Errors (https://docs.stripe.com/api/errors): 400/402/404 with ``card_error`` or
``invalid_request_error`` -> ``StoreRejected`` (Stripe's message and code); ``idempotency_error``
-> ``IdempotencyKeyReused``; 401/403 -> ``BackendAuthError``; 409 (another request with the key
is in flight), 429, 5xx and network errors -> ``StoreUnavailable`` (``StoreThrottled`` for 429).
Stripe's ``Stripe-Should-Retry`` header, when present, has the last word on transient or not.

The API key is a ``SecretStr``: it goes into the ``Authorization`` header and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from supportflow.store.adapters.http_backend import HttpBackend, error_field
from supportflow.store.errors import (
    IdempotencyKeyReused,
    StoreError,
    StoreNotFound,
    StoreRejected,
    StoreUnavailable,
)
from supportflow.store.port import BackendAuthError, Doc, StoreThrottled

RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]


class StripeRefunds(HttpBackend):
    backend = "Stripe"

    def __init__(
        self,
        api_key: SecretStr,
        base_url: str = "https://api.stripe.com",
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        timeout: float = 30.0,
        stripe_version: str | None = None,
        stripe_account: str | None = None,
    ) -> None:
        if not isinstance(api_key, SecretStr):
            raise TypeError("api_key must be a pydantic SecretStr")
        headers = {"Authorization": f"Bearer {api_key.get_secret_value()}"}
        if stripe_version:
            headers["Stripe-Version"] = stripe_version
        if stripe_account:
            # A connected account: the platform's key acts on that account's payments.
            headers["Stripe-Account"] = stripe_account
        self.base_url = base_url.rstrip("/")
        super().__init__(
            httpx.AsyncClient(
                base_url=self.base_url, timeout=timeout, transport=transport, headers=headers
            )
        )

    def __repr__(self) -> str:
        return f"StripeRefunds({self.base_url!r})"

    async def create_refund(
        self,
        payment_intent: str,
        amount_cents: int | None,
        idempotency_key: str,
        reason: RefundReason | None = "requested_by_customer",
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> Doc:
        """Refund ``amount_cents`` (``None``: everything not yet refunded) of a payment intent.
        Returns Stripe's refund object (``id``, ``status``, ``amount``, ...)."""
        if amount_cents is not None and amount_cents <= 0:
            raise StoreRejected("amount_cents must be positive", status_code=422)
        if not idempotency_key:
            raise StoreRejected("an idempotency key is required", status_code=422)
        form: dict[str, str] = {"payment_intent": payment_intent}
        if amount_cents is not None:
            form["amount"] = str(amount_cents)
        if reason is not None:
            form["reason"] = reason
        for key, value in {
            "supportflow_idempotency_key": idempotency_key,
            **(metadata or {}),
        }.items():
            form[f"metadata[{key}]"] = value
        return await self._request(
            "POST", "/v1/refunds", data=form, headers={"Idempotency-Key": idempotency_key}
        )

    async def get_refund(self, refund_id: str) -> Doc | None:
        """The refund object, or ``None`` when Stripe knows no such refund."""
        try:
            return await self._request("GET", f"/v1/refunds/{quote(refund_id, safe='')}")
        except StoreNotFound:
            return None

    async def _request(self, method: str, path: str, **kwargs: Any) -> Doc:
        response = await self._send(method, path, **kwargs)
        if response.is_success:
            try:
                body: Doc = response.json()
            except ValueError as exc:
                raise StoreUnavailable("Stripe sent a non-JSON answer") from exc
            return body
        raise _error_for(response, f"{method} {path}")


def _error_for(response: httpx.Response, what: str) -> StoreError:
    status = response.status_code
    error = error_field(response, "error")
    error = error if isinstance(error, dict) else {}
    kind = error.get("type")
    code = error.get("code") or error.get("decline_code")
    message = f"{what}: Stripe {status}" + (f" {kind}" if kind else "")
    message += f" ({code})" if code else ""
    if error.get("message") and status not in (401, 403):
        # Stripe masks keys in 401 messages; we still keep them out entirely.
        message += f": {error['message']}"
    should_retry = response.headers.get("Stripe-Should-Retry")
    if status in (401, 403):
        return BackendAuthError(
            f"{what}: Stripe refused the API key ({status})", status_code=status
        )
    if kind == "idempotency_error":
        return IdempotencyKeyReused(message, status_code=status)
    if should_retry == "false":
        return StoreRejected(message, status_code=status)
    if status == 429:
        retry_after = response.headers.get("Retry-After")
        return StoreThrottled(
            message,
            status_code=429,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    if should_retry == "true" or status == 409 or status >= 500:
        return StoreUnavailable(message, status_code=status)
    if status == 404:
        return StoreNotFound(message, status_code=status)
    return StoreRejected(message, status_code=status)
