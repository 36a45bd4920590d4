"""The process's observability: set up once, from settings, by whichever part starts first
(the API's lifespan, the workers, ``connect``), and what the parts ask of it.

- ``ensure(settings)``: tracing (when an endpoint is set), the activity counters and the log
  context sources; the first call's settings win (a process has one configuration).
- ``ensure_sdk_metrics(settings)``: the Temporal SDK's runtime reporting into /metrics; call
  it before the process's clients connect (``temporal/client.connect`` does).
- ``install``/``uninstall``: replace it whole; tests use them to trace into memory.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from temporalio import worker
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import Runtime, TelemetryConfig

from supportflow.observability import current, log_context
from supportflow.observability.core_logs import core_logging
from supportflow.observability.sdk_metrics import SdkMetrics
from supportflow.observability.temporal import ActivityMetrics
from supportflow.observability.tracing import Tracing, tracing_from_settings
from supportflow.observability.worker_health import start_worker_http
from supportflow.settings import Settings

log = logging.getLogger(__name__)

_FROM_SETTINGS: Any = object()


class Observability:
    def __init__(self, settings: Settings, tracing: Tracing | None) -> None:
        self.settings = settings
        self.tracing = tracing
        self.activity_metrics = ActivityMetrics() if settings.metrics_enabled else None

    def traced_client(self, client: Client) -> Client:
        """``client`` with the tracing interceptor (a new client on the same connection), or
        ``client`` itself when tracing is off or it has one already."""
        if self.tracing is None or _has_tracing(client.config()["interceptors"]):
            return client
        config = client.config()
        config["interceptors"] = [*config["interceptors"], self.tracing.interceptor]
        return Client(**config)

    def worker_interceptors(self, client: Client) -> list[worker.Interceptor]:
        """What a Worker on ``client`` needs besides what the client brings (the SDK applies
        a client's interceptors to its workers; one given twice would trace twice)."""
        out: list[worker.Interceptor] = []
        if self.tracing is not None and not _has_tracing(client.config()["interceptors"]):
            out.append(self.tracing.interceptor)
        if self.activity_metrics is not None:
            out.append(self.activity_metrics)
        return out

    def shutdown(self) -> None:
        if self.tracing is not None:
            self.tracing.shutdown()


def _has_tracing(interceptors: Sequence[object]) -> bool:
    return any(isinstance(i, TracingInterceptor) for i in interceptors)


_current: Observability | None = None
_sdk: SdkMetrics | None = None


def install(settings: Settings, *, tracing: Tracing | None = _FROM_SETTINGS) -> Observability:
    """Replace the process's observability (the old one's spans are flushed first)."""
    global _current
    uninstall()
    chosen = tracing_from_settings(settings) if tracing is _FROM_SETTINGS else tracing
    _current = Observability(settings, chosen)
    current.set_tracer(chosen.tracer if chosen is not None else None)
    log_context.register()
    if chosen is not None:
        log.info("tracing on: service %s", settings.otel_service_name)
    return _current


def uninstall() -> None:
    global _current
    if _current is not None:
        _current.shutdown()
        _current = None
    current.set_tracer(None)


def ensure(settings: Settings) -> Observability:
    return _current if _current is not None else install(settings)


_core_logs_only: Runtime | None = None


def ensure_sdk_metrics(settings: Settings) -> None:
    """The SDK's runtime for the next client connected on: its metrics into this process's
    registry (unless metrics are off) and, always, its log lines through Python's logging,
    never straight to stdout (observability/core_logs.py)."""
    global _sdk, _core_logs_only
    if _sdk is None and settings.metrics_enabled:
        _sdk = SdkMetrics()
        _sdk.install()
    elif _sdk is None and _core_logs_only is None:
        _core_logs_only = Runtime(telemetry=TelemetryConfig(logging=core_logging()))
        Runtime.set_default(_core_logs_only, error_if_already_set=False)


@contextlib.contextmanager
def worker_metrics_endpoint(settings: Settings) -> Iterator[str | None]:
    """A worker process's own /metrics (Settings.worker_metrics_port), for the block; yields
    its URL, or None when none is configured or the port cannot be had (said once: the
    worker works on without it). The same server answers the probes' /health
    (observability/worker_health.py)."""
    port = settings.worker_metrics_port
    if port is None or not settings.metrics_enabled:
        yield None
        return
    try:
        server, thread = start_worker_http(settings, port)
    except OSError as err:
        log.warning(
            "worker metrics not served on %s:%d (%s); the worker runs without them",
            settings.worker_metrics_host,
            port,
            err.strerror or type(err).__name__,
        )
        yield None
        return
    url = f"http://{settings.worker_metrics_host}:{server.server_port}/metrics"
    log.info("worker metrics on %s", url)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
