"""Shopify's Admin GraphQL endpoint: one POST per operation, its failures as port errors.

Every call is ``POST {base}/admin/api/{version}/graphql.json`` with the header
``X-Shopify-Access-Token``. Errors: HTTP 401/403 and ``ACCESS_DENIED`` -> ``BackendAuthError``
(permanent); HTTP 429 and GraphQL ``THROTTLED`` -> ``StoreThrottled`` (with Shopify's estimate
of when the cost will be available again); 5xx, ``INTERNAL_SERVER_ERROR``, timeouts and
connection errors -> ``StoreUnavailable``; no Admin API at that address or version (404), a
frozen or locked shop and any other GraphQL error -> ``StoreRejected``. ``userErrors`` of
mutations are the writes' to judge (``writes.py``).

The access token is a ``SecretStr``: it goes into one request header and nowhere else (not in
``repr``, errors or logs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from supportflow.store.adapters.http_backend import HttpBackend
from supportflow.store.adapters.shopify.fields import Doc, path
from supportflow.store.errors import StoreRejected, StoreUnavailable
from supportflow.store.port import BackendAuthError, StoreThrottled


class ShopifyGraphql(HttpBackend):
    """One shop's Admin GraphQL API."""

    backend = "Shopify"

    def __init__(
        self,
        shop_domain_or_base_url: str,
        access_token: SecretStr,
        api_version: str = "2025-07",
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        timeout: float = 15.0,
    ) -> None:
        if not isinstance(access_token, SecretStr):
            raise TypeError("access_token must be a pydantic SecretStr")
        self.base_url = base_url(shop_domain_or_base_url)
        self.api_version = api_version
        super().__init__(
            httpx.AsyncClient(
                base_url=self.base_url,
                timeout=timeout,
                transport=transport,
                headers={
                    "X-Shopify-Access-Token": access_token.get_secret_value(),
                    "Accept": "application/json",
                },
            )
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, api_version={self.api_version!r})"

    async def graphql(self, query: str, variables: Mapping[str, Any]) -> Doc:
        """Run one GraphQL operation; its ``data``, or the mapped error."""
        endpoint = f"/admin/api/{self.api_version}/graphql.json"
        response = await self._send(
            "POST", endpoint, json={"query": query, "variables": dict(variables)}
        )
        status = response.status_code
        if status in (401, 403):
            raise BackendAuthError(
                f"Shopify refused the access token ({status}): check the token and its scopes",
                status_code=status,
            )
        if status == 429:
            raise StoreThrottled(
                "Shopify rate limit (429)",
                status_code=429,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise StoreUnavailable(f"Shopify error {status}", status_code=status)
        if status == 404:
            raise StoreRejected(
                f"no Admin API at {self.base_url}{endpoint} (404): check the shop domain and API "
                "version",
                status_code=404,
            )
        if status in (402, 423):
            raise StoreRejected(f"the shop is frozen or locked ({status})", status_code=status)
        try:
            body = response.json()
        except ValueError as exc:
            raise StoreUnavailable(f"Shopify sent a non-JSON answer ({status})") from exc
        if not response.is_success:
            raise StoreRejected(
                f"Shopify refused the request ({status}): {body}", status_code=status
            )
        if not isinstance(body, dict):
            raise StoreUnavailable("Shopify sent an unexpected answer")
        if body.get("errors"):
            raise graphql_error(body)
        data = body.get("data")
        if not isinstance(data, dict):
            raise StoreUnavailable("Shopify answered without data")
        return data


def graphql_error(body: Mapping[str, Any]) -> Exception:
    """The port error for a GraphQL ``errors`` answer."""
    errors = body.get("errors")
    if not isinstance(errors, list):  # e.g. {"errors": "[API] ..."} next to an HTTP status
        return StoreRejected(f"Shopify refused the request: {errors}")
    codes = {path(e, "extensions", "code") for e in errors if isinstance(e, dict)}
    text = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))
    if "THROTTLED" in codes:
        return StoreThrottled(
            f"Shopify throttled the request: {text}", retry_after=_throttle_wait(body)
        )
    if "ACCESS_DENIED" in codes:
        return BackendAuthError(f"Shopify denied access: {text}", status_code=403)
    if "INTERNAL_SERVER_ERROR" in codes:
        return StoreUnavailable(f"Shopify internal error: {text}")
    return StoreRejected(f"Shopify GraphQL error: {text}")


def _throttle_wait(body: Mapping[str, Any]) -> float | None:
    """Seconds until the bucket holds the query's cost again (from ``extensions.cost``)."""
    cost = path(body, "extensions", "cost")
    if not isinstance(cost, dict):
        return None
    status = cost.get("throttleStatus") or {}
    try:
        needed = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(needed, 0.0) / float(status["restoreRate"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def base_url(shop: str) -> str:
    """``https://<shop>`` for a shop domain; a URL (a test server's) as given."""
    shop = shop.strip().rstrip("/")
    if not shop:
        raise ValueError("a shop domain or base URL is required")
    if shop.startswith(("http://", "https://")):
        return shop
    if "/" in shop:
        raise ValueError(f"not a shop domain: {shop!r}")
    return f"https://{shop}"
