"""A worker process's liveness and its small HTTP server: ``/metrics`` and ``/health``.

``supportflow worker`` has no API, so its probes (Kubernetes, compose) ask this server, on
``Settings.worker_metrics_host``/``worker_metrics_port``:

- ``GET /health``: 200 ``{"status": "ok", "workers": N}`` while every Worker this process
  started is running (a draining Worker still runs: it finishes what it holds); 503 before
  the first Worker runs (``starting``), after they all stopped (``stopped``), or once one
  ended with an error (``failed``). Never behind the metrics token: probes carry no secrets.
- ``GET /metrics``: the process's Prometheus registry, behind ``Settings.metrics_token``
  (``Authorization: Bearer <token>``) when one is set, as on the API.

The Workers report through ``LivenessPlugin`` (a Temporal worker plugin; ``worker_options``
gives every Worker one), so nothing else has to tell this module what runs.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from temporalio.worker import Plugin, Replayer, ReplayerConfig, Worker, WorkerConfig

from supportflow.settings import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from temporalio.client import WorkflowHistory
    from temporalio.worker import WorkflowReplayResult


class Liveness:
    """How many of this process's Workers run, and whether one of the Workers running
    together ended with an error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._started = 0
        self._failed = 0

    def started(self) -> None:
        with self._lock:
            if self._running == 0:
                self._failed = 0  # a new set of Workers: an earlier set's failure is history
            self._running += 1
            self._started += 1

    def ended(self, *, failed: bool) -> None:
        with self._lock:
            self._running -= 1
            self._failed += int(failed)

    def status(self) -> tuple[int, dict[str, object]]:
        """The HTTP status and body ``/health`` answers."""
        with self._lock:
            running, started, failed = self._running, self._started, self._failed
        if failed:
            return 503, {"status": "failed", "workers": running}
        if running:
            return 200, {"status": "ok", "workers": running}
        return 503, {"status": "stopped" if started else "starting", "workers": 0}


# The process's one record: every Worker built with ``worker_options`` reports here.
PROCESS_LIVENESS = Liveness()


class LivenessPlugin(Plugin):
    """Counts a Worker as running from ``run()`` until it returns; an error ends it failed."""

    def __init__(self, liveness: Liveness = PROCESS_LIVENESS) -> None:
        self._liveness = liveness

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        return config

    async def run_worker(self, worker: Worker, next: Callable[[Worker], Awaitable[None]]) -> None:
        self._liveness.started()
        failed = True
        try:
            await next(worker)
            failed = False
        except asyncio.CancelledError:
            failed = False  # cancelled by whoever runs it: a stop, not a fault
            raise
        finally:
            self._liveness.ended(failed=failed)

    def configure_replayer(self, config: ReplayerConfig) -> ReplayerConfig:
        return config

    def run_replayer(
        self,
        replayer: Replayer,
        histories: AsyncIterator[WorkflowHistory],
        next: Callable[
            [Replayer, AsyncIterator[WorkflowHistory]],
            AbstractAsyncContextManager[AsyncIterator[WorkflowReplayResult]],
        ],
    ) -> AbstractAsyncContextManager[AsyncIterator[WorkflowReplayResult]]:
        return next(replayer, histories)


def worker_http_app(
    settings: Settings, liveness: Liveness = PROCESS_LIVENESS
) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """The WSGI app: ``/health`` open, ``/metrics`` behind the metrics token if one is set."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/health":
            code, body = liveness.status()
            reason = "OK" if code == 200 else "Service Unavailable"
            start_response(f"{code} {reason}", [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        if path == "/metrics":
            given = str(environ.get("HTTP_AUTHORIZATION", ""))
            if token is not None and not hmac.compare_digest(
                given.encode(), f"Bearer {token}".encode()
            ):
                start_response(
                    "401 Unauthorized",
                    [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
                )
                return [b"metrics need the bearer token (SUPPORTFLOW_METRICS_TOKEN)\n"]
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [generate_latest(REGISTRY)]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /metrics or /health\n"]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes and scrapes every few seconds: no access log."""


def start_worker_http(
    settings: Settings, port: int, liveness: Liveness = PROCESS_LIVENESS
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``worker_http_app`` on ``settings.worker_metrics_host``:``port`` in a daemon
    thread (``OSError`` when the port cannot be had). Stop it with ``shutdown()``."""
    host = settings.worker_metrics_host
    server_class = _IPv6Server if ":" in host else _Server
    server = make_server(
        host,
        port,
        worker_http_app(settings, liveness),
        server_class=server_class,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, name="worker-metrics-http", daemon=True)
    thread.start()
    return server, thread
