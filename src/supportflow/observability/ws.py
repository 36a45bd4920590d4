"""A chat WebSocket's messages as turns: each frame a customer sends is a trace of its own and
a count in the door's turn metrics (transport ``websocket``), as a POST /v1/chat/messages is
(observability/asgi.py).

The socket itself is no span: it lives for an hour, and one span over all its turns would
put them in one trace. Each turn's span is a root (never the child of whatever context the
socket's task carries), made current while the turn runs, so the Temporal client's
interceptor puts it in the update's headers and the workflow's turn continues it, as with
HTTP. Attributes: the route, the frame's answer status (the HTTP status the same message
would have had) and the outcome; never the text, the visitor or the message id.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode

from supportflow.observability import metrics
from supportflow.observability.asgi import turn_outcome
from supportflow.observability.current import tracer

ROUTE = "/v1/chat/stream"


@dataclass
class WsTurn:
    """What the turn answered: set ``status`` before the block ends (500 if it never is)."""

    status: int = 500


@contextmanager
def ws_turn(channel: str = "chat") -> Iterator[WsTurn]:
    """A span and the turn counters for one message a WebSocket carries."""
    started = time.perf_counter()
    turn = WsTurn()
    with tracer().start_as_current_span(
        f"WS {ROUTE} message",
        context=Context(),  # a root: each turn its own trace
        kind=SpanKind.SERVER,
        attributes={"http.route": ROUTE, "network.protocol.name": "websocket"},
    ) as span:
        try:
            yield turn
        finally:
            outcome = turn_outcome(channel, turn.status)
            if span.is_recording():
                span.set_attribute("supportflow.ws.status", turn.status)
                span.set_attribute("supportflow.turn.outcome", outcome)
                if turn.status >= 500:
                    span.set_status(Status(StatusCode.ERROR, f"status {turn.status}"))
            metrics.count_turn(channel, "websocket", outcome, time.perf_counter() - started)


def count_refused_frame(started: float, channel: str = "chat") -> None:
    """A frame refused by a rate limit before it was read (no span: a flood makes none)."""
    metrics.count_turn(channel, "websocket", "rate_limited", time.perf_counter() - started)
