"""What every adapter that owns an HTTP client shares: closing it (``async with``), and
network failures as the port's transient error.

A timeout or a connection that fails is ``StoreUnavailable`` whatever the backend: the caller
retries with the same idempotency key. What the backend answers is each adapter's to map.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from supportflow.async_closing import AsyncClosing
from supportflow.observability.http import outgoing_http_span, record_status
from supportflow.store.errors import StoreUnavailable


class HttpBackend(AsyncClosing):
    """Owns ``_http``; subclasses name their backend (``backend``) for error messages."""

    backend: ClassVar[str] = "backend"

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The backend's answer, whatever its status; no answer at all is
        ``StoreUnavailable``. The exception's text names the request, never its headers."""
        try:
            # --- observability (issue 15 item 5): one span per store call; the trace context
            # goes out in its headers (observability/http.py; a no-op with tracing off) ---
            headers = dict(kwargs.pop("headers", None) or {})
            with outgoing_http_span(self.backend, method, path, headers) as span:
                response = await self._http.request(method, path, headers=headers, **kwargs)
                record_status(span, response.status_code)
            return response
            # --- end observability ---
        except httpx.TimeoutException as exc:
            raise StoreUnavailable(f"{self.backend} timed out on {method} {path}") from exc
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"{self.backend} unreachable on {method} {path}: {type(exc).__name__}"
            ) from exc


def error_field(response: httpx.Response, key: str) -> Any:
    """``key`` of an error answer's JSON object; ``None`` when the body is no JSON object
    (a proxy's HTML page, an empty 502)."""
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload.get(key) if isinstance(payload, dict) else None
