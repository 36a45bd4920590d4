"""The API's side: a span for each HTTP request (the root of a chat turn's trace), the turn
counters and latency at the door, and GET /metrics.

A pure ASGI middleware, outermost, so its span is the parent of everything the request does
(the Temporal update included: the SDK's client interceptor reads the current span) and its
clock sees what the client sees. Span attributes are the method, the route's template (never
the path's ids or the query: visitor ids and keys travel there), the status and the request
id. A ``traceparent`` header from the caller is continued (a merchant's front end can follow
its requests in). A WebSocket connection is not a span (one span for a chat that lasts an
hour says nothing): each message it carries is, with its count (observability/ws.py).
"""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request, Response
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from supportflow.observability import metrics
from supportflow.observability.current import tracer
from supportflow.settings import Settings

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = (b"traceparent", b"tracestate")


# Where a handler leaves what became of the message when the status does not say it all
# (an email webhook's 200 is a delivery, a duplicate or an ignored auto-reply alike).
_OUTCOME_KEY = "supportflow_turn_outcome"


def turn_door(method: str, path: str) -> tuple[str, str] | None:
    """The channel and transport a request brings a customer's message on, if it does."""
    if method != "POST":
        return None
    if path == "/v1/chat/messages":
        return "chat", "http"
    if path.startswith("/v1/channels/twilio/sms/"):
        return "sms", "webhook"
    if path.startswith(("/v1/channels/mailgun/", "/v1/channels/sendgrid/")):
        return "email", "webhook"
    return None


def turn_outcome(channel: str, status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "error"
    if channel == "email" and status == 413:
        return "too_large"
    if channel == "email" and status == 406:
        return "unusable"
    if status >= 400:
        return "refused"
    if channel == "chat":
        return "pending" if status == 202 else "answered"
    return "accepted"


def set_turn_outcome(request: Request, outcome: str) -> None:
    """Tell the door's counter what became of this request's message (a 2xx only; errors
    are read from the status)."""
    request.state.supportflow_turn_outcome = outcome  # scope["state"][_OUTCOME_KEY]


def _set_outcome(scope: Scope) -> str | None:
    state = scope.get("state")
    found = state.get(_OUTCOME_KEY) if isinstance(state, dict) else None
    return found if isinstance(found, str) else None


def _untraced(path: str) -> bool:
    """Probes and scrapes: a span every few seconds from Kubernetes or Prometheus is noise."""
    return path in ("/metrics", "/health") or path.startswith("/health/")


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _untraced(scope["path"]):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        door = turn_door(method, scope["path"])
        carrier = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope.get("headers", ())
            if k in _TRACE_HEADERS
        }
        started = time.perf_counter()
        status = 500
        with tracer().start_as_current_span(
            f"HTTP {method}",
            context=_PROPAGATOR.extract(carrier) if carrier else None,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method},
        ) as span:

            async def send_observed(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    if span.is_recording():
                        for k, v in message.get("headers", ()):
                            if k.lower() == b"x-request-id":
                                span.set_attribute("supportflow.request_id", v.decode("latin-1"))
                await send(message)

            try:
                await self.app(scope, receive, send_observed)
            finally:
                # FastAPI put the matched route in the scope on the way in.
                template = getattr(scope.get("route"), "path", None)
                if span.is_recording():
                    if template:
                        span.update_name(f"{method} {template}")
                        span.set_attribute("http.route", template)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
                if door is not None:
                    channel, transport = door
                    outcome = turn_outcome(channel, status)
                    if status < 400:
                        outcome = _set_outcome(scope) or outcome
                    metrics.count_turn(
                        channel,
                        transport,
                        outcome,
                        time.perf_counter() - started if channel == "chat" else None,
                    )


def prometheus_router(settings: Settings) -> APIRouter:
    """GET /metrics in Prometheus' text format: this process's registry (ours, and the SDK's
    when its runtime reports here). Behind a bearer token when one is configured."""
    router = APIRouter()
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return Response(
                    "metrics need the bearer token (SUPPORTFLOW_METRICS_TOKEN)\n",
                    status_code=401,
                    media_type="text/plain",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router
