"""The ``twilio`` client's HTTP transport over httpx (see sender.py for why not aiohttp).

``twilio.http.AsyncHttpClient`` is the library's interface for pluggable transports: the
client builds the request (URL, auth pair, headers, form data) and parses the response; a
transport only moves bytes and hands back ``twilio.http.response.Response``.
"""

from __future__ import annotations

import logging

import httpx
from twilio.http import AsyncHttpClient  # type: ignore[import-untyped]
from twilio.http.response import Response  # type: ignore[import-untyped]

_log = logging.getLogger(__name__)


class HttpxTransport(AsyncHttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """Requests through a caller-owned ``httpx.AsyncClient`` (its timeouts apply)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(_log, True, None)
        self._client = client

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - twilio's interface
        allow_redirects: bool = False,
    ) -> Response:
        # No request logging here: the twilio base class's log_request would write the
        # URL and headers at INFO; nothing of the form (numbers, text) is ever logged.
        response = await self._client.request(
            method.upper(),
            uri,
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            follow_redirects=allow_redirects,
        )
        return Response(response.status_code, response.text, response.headers)
