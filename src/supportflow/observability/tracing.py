"""OpenTelemetry tracing: the tracer provider, its OTLP/HTTP exporter, and the Temporal
interceptor that carries a trace from the API into the workflow and its activities.

One chat turn is one trace: the API's request span (observability/asgi.py) is the parent of
the Temporal client's update call; the SDK's ``TracingInterceptor`` puts the trace context in
the update's headers; the workflow's update handler continues it, and the activities the
turn schedules (their headers again) run under it, the store's HTTP calls inside them
(observability/http.py). See ``TurnTracingWorkflowInbound`` for the one change we make to
the SDK's interceptor.

The provider is ours, not the global one (``opentelemetry.trace.set_tracer_provider`` can be
set once per process): every span is made by ``Tracing.tracer``, and tests build a
``Tracing`` of their own over an in-memory exporter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import opentelemetry.trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from temporalio.api.common.v1 import Payload
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.contrib.opentelemetry._context import attached_context
from temporalio.worker import HandleSignalInput, HandleUpdateInput, WorkflowInterceptorClassInput

from supportflow.settings import Settings

log = logging.getLogger(__name__)

# The OTLP exporter's own loggers: a dead collector makes them log every batch (with retries);
# we say it once instead (GuardedExporter).
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
)
# The batch processor's: "Queue full, dropping spans" while exports fail is the same news.
_PROCESSOR_LOGGER = "opentelemetry.sdk._shared_internal"
# One export (with the exporter's own retries) waits at most this long, on the export thread.
EXPORT_TIMEOUT_S = 5.0
# After a failed export, batches are dropped (no network wait at all) for this long.
RETRY_AFTER_S = 30.0


class TracingMisconfigured(ValueError):
    pass


def check_endpoint(endpoint: str) -> str:
    """An OTLP/HTTP URL (http or https, with a host); the reason it is not, otherwise."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TracingMisconfigured(
            # The value itself is not repeated: a URL may carry credentials.
            "SUPPORTFLOW_OTEL_TRACES_ENDPOINT is not an http(s) URL with a host"
        )
    try:
        _ = parts.port
    except ValueError as err:
        raise TracingMisconfigured("SUPPORTFLOW_OTEL_TRACES_ENDPOINT has an invalid port") from err
    return endpoint.strip()


class _Swallow(logging.Filter):
    """Keeps the exporter's own failure lines out of the log (while ``when()``), remembering
    the last one: the reason we give, once."""

    def __init__(self, when: Callable[[], bool] = lambda: True) -> None:
        super().__init__()
        self.last: str | None = None
        self._when = when

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING and self._when():
            self.last = record.getMessage()[:300]
            return False
        return True


class GuardedExporter(SpanExporter):
    """Wraps the OTLP exporter so that a wrong or dead endpoint costs the product nothing and
    is said once: the first failure is logged (one WARNING line, no stack trace), batches are
    then dropped for ``RETRY_AFTER_S`` between attempts, and the first success after says so."""

    def __init__(self, inner: SpanExporter, endpoint: str) -> None:
        self._inner = inner
        self._endpoint = endpoint
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._failing = False
        self._swallow = _Swallow()
        self._swallow_queue_full = _Swallow(lambda: self._failing)
        for name in _EXPORTER_LOGGERS:
            logging.getLogger(name).addFilter(self._swallow)
        logging.getLogger(_PROCESSOR_LOGGER).addFilter(self._swallow_queue_full)

    @property
    def failing(self) -> bool:
        return self._failing

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        now = time.monotonic()
        with self._lock:
            if now < self._down_until:
                return SpanExportResult.FAILURE
        try:
            result = self._inner.export(spans)
        except Exception as exc:
            self._swallow.last = type(exc).__name__
            result = SpanExportResult.FAILURE
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                if self._failing:
                    log.warning("tracing: spans reach %s again", self._endpoint)
                self._failing = False
                self._down_until = 0.0
                return result
            self._down_until = time.monotonic() + RETRY_AFTER_S
            if not self._failing:
                self._failing = True
                log.warning(
                    "tracing: spans cannot be exported to %s (%s); the product works on "
                    "without them and retries every %.0f s (said once until it works again)",
                    self._endpoint,
                    self._swallow.last or "no answer",
                    RETRY_AFTER_S,
                )
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()
        for name in _EXPORTER_LOGGERS:
            logging.getLogger(name).removeFilter(self._swallow)
        logging.getLogger(_PROCESSOR_LOGGER).removeFilter(self._swallow_queue_full)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class TurnTracingWorkflowInbound(TracingWorkflowInboundInterceptor):
    """The SDK's workflow interceptor, with update and signal handlers that continue the
    *message's* trace. The SDK parents every update and signal on the trace of the request
    that started the workflow and only links the message's own; a conversation lives for
    days and its turns arrive as updates (chat) or signals (email, SMS, a chat reply nobody
    waited for), so each turn would land in its first turn's trace. Here the message's header
    context is the parent (the workflow's start is the link), so the activities the turn
    schedules, and the store calls in them, belong to the request that sent the message.
    Spans are made only outside replay, as in the SDK; nothing here changes a command."""

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        context = self._message_context(input.headers)
        if context is None:
            return await super().handle_update_handler(input)
        with attached_context(context):
            self._completed_span(
                f"HandleUpdate:{input.update}",
                link_context_carrier=self._load_workflow_context_carrier(),
                kind=opentelemetry.trace.SpanKind.SERVER,
            )
            return await self.next.handle_update_handler(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        context = self._message_context(input.headers)
        if context is None:
            return await super().handle_signal(input)
        with attached_context(context):
            self._completed_span(
                f"HandleSignal:{input.signal}",
                link_context_carrier=self._load_workflow_context_carrier(),
                kind=opentelemetry.trace.SpanKind.SERVER,
            )
            return await self.next.handle_signal(input)

    def _message_context(self, headers: Mapping[str, Payload]) -> Context | None:
        header = headers.get(self.header_key)
        if not header:
            return None
        carrier = self.payload_converter.from_payloads([header])[0]
        return self._set_on_context(self.text_map_propagator.extract(carrier))


class TurnTracingInterceptor(TracingInterceptor):
    """The SDK's client + worker interceptor, with ``TurnTracingWorkflowInbound``."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)  # registers the span extern function
        return TurnTracingWorkflowInbound


class Tracing:
    """The process's tracer provider and what hangs off it."""

    def __init__(
        self,
        settings: Settings,
        exporter: SpanExporter,
        *,
        batch: bool = True,
        guarded: GuardedExporter | None = None,
    ) -> None:
        resource = Resource.create({SERVICE_NAME: settings.otel_service_name})
        self.provider = TracerProvider(
            resource=resource,
            sampler=ParentBased(TraceIdRatioBased(settings.otel_traces_sample_ratio)),
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(exporter, export_timeout_millis=EXPORT_TIMEOUT_S * 1000)
            if batch
            else SimpleSpanProcessor(exporter)
        )
        self.tracer = self.provider.get_tracer("supportflow")
        self.interceptor = TurnTracingInterceptor(self.tracer)
        self.guarded = guarded

    def shutdown(self) -> None:
        self.provider.shutdown()


def tracing_from_settings(settings: Settings) -> Tracing | None:
    """Tracing exported over OTLP/HTTP, or None when no endpoint is set. A malformed endpoint
    is said once and leaves tracing off: the product never stops for its telemetry."""
    if not settings.otel_traces_endpoint:
        return None
    try:
        endpoint = check_endpoint(settings.otel_traces_endpoint)
    except TracingMisconfigured as err:
        log.warning("tracing off: %s", err)
        return None
    # Imported here: only a process that exports loads the OTLP/protobuf stack.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    guarded = GuardedExporter(
        OTLPSpanExporter(endpoint=endpoint, timeout=EXPORT_TIMEOUT_S), _redacted(endpoint)
    )
    return Tracing(settings, guarded, guarded=guarded)


def _redacted(endpoint: str) -> str:
    """The endpoint as logs may show it: no user info, no query (a token could sit there)."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
