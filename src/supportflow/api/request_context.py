"""Each request's id (X-Request-ID), and what the audit trail needs to know about the caller,
for the length of the request.

A pure ASGI middleware sets a context variable that the handlers (and the threads
``run_in_threadpool`` runs them on, which copy the context) read: audit entries carry the
request id without every handler taking the request as a parameter. A caller's own
X-Request-ID is kept when it is a plain token (so a merchant can match our entries to their
logs); anything else is replaced by a fresh id. The id is echoed in the response.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,64}$")


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    # The merchant key the request came with, to name it in audit entries (by its id, never
    # the key); repr=False keeps it out of any log line that prints the context.
    api_key: str | None = field(default=None, repr=False)


_current: ContextVar[RequestContext | None] = ContextVar("supportflow_request", default=None)


def current_request() -> RequestContext | None:
    return _current.get()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get(HEADER, "")
        request_id = given if _VALID_ID.match(given) else uuid.uuid4().hex
        token = _current.set(RequestContext(request_id, headers.get("x-api-key") or None))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
