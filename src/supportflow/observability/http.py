"""A span for each HTTP call the agents make to a store (demo, Shopify, Stripe): the method,
the backend, the path without its query (which may hold an email or a phone number), and the
status. The W3C ``traceparent`` header goes out with the request, so a store that traces
continues the same trace. With tracing off, the tracer is a no-op and so is this.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, MutableMapping

from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from supportflow.observability.current import tracer

_PROPAGATOR = TraceContextTextMapPropagator()


@contextlib.contextmanager
def outgoing_http_span(
    backend: str, method: str, path: str, headers: MutableMapping[str, str]
) -> Iterator[Span]:
    """The block is one outgoing call; ``headers`` (the request's) get the trace context."""
    with tracer().start_as_current_span(
        f"{backend} {method}",
        kind=SpanKind.CLIENT,
        attributes={
            "http.request.method": method,
            "url.path": path.split("?", 1)[0],
            "supportflow.store.backend": backend,
        },
    ) as span:
        if span.is_recording():
            _PROPAGATOR.inject(headers)
        yield span


def record_status(span: Span, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
