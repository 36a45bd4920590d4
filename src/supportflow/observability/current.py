"""The tracer this process makes spans with: the configured one, or OpenTelemetry's no-op
tracer when tracing is off. Its own tiny module so that the store's HTTP helper (and
anything low) can reach it without loading the rest of observability."""

from __future__ import annotations

from opentelemetry.trace import NoOpTracer, Tracer

_NO_OP: Tracer = NoOpTracer()
_tracer: Tracer = _NO_OP


def tracer() -> Tracer:
    return _tracer


def set_tracer(tracer: Tracer | None) -> None:
    global _tracer
    _tracer = tracer if tracer is not None else _NO_OP
