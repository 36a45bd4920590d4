"""Run the demo store with uvicorn inside the caller's event loop (for `supportflow up`, tests).

``StoreServer`` gives explicit start/stop; ``serve_store`` runs until cancelled. Neither touches
process signal handlers: the host process owns those.

Webhooks: pass ``webhooks=StoreWebhooks(url=..., secret=...)``; when not passed, the standalone
process reads SUPPORTFLOW_STORE_WEBHOOK_URL and SUPPORTFLOW_STORE_WEBHOOK_SECRET (no URL: no
webhooks), and SUPPORTFLOW_STORE_ABANDON_AFTER_SECONDS for ``abandon_after``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

from supportflow.asgi_server import LoopbackServer
from supportflow.demo_store.app import DEFAULT_ABANDON_AFTER, create_app
from supportflow.demo_store.faults import FaultSettings
from supportflow.demo_store.webhooks.config import StoreWebhooks, abandon_after_from_env

__all__ = ["StoreServer", "StoreWebhooks", "serve_store"]

log = logging.getLogger(__name__)


class StoreServer(LoopbackServer):
    """The store on ``host:port`` (port 0 picks a free one; see ``url`` after start)."""

    def __init__(
        self,
        db_path: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: FaultSettings | None = None,
        admin: bool | None = None,
        log_level: str = "warning",
        graceful_shutdown_s: float = 5.0,
        webhooks: StoreWebhooks | None = None,
        abandon_after: timedelta | float | None = None,
    ) -> None:
        super().__init__(
            host,
            port,
            name="supportflow-store",
            log_level=log_level,
            graceful_shutdown_s=graceful_shutdown_s,
        )
        self.db_path = db_path
        self._faults = faults
        self._admin = admin
        self._webhooks = webhooks if webhooks is not None else StoreWebhooks.from_env()
        if abandon_after is None:
            abandon_after = abandon_after_from_env() or DEFAULT_ABANDON_AFTER
        self._abandon_after = abandon_after

    async def start(self) -> None:
        # Opening and seeding the database is blocking I/O: keep it off the event loop.
        app = await asyncio.to_thread(
            create_app,
            self.db_path,
            faults=self._faults,
            admin=self._admin,
            webhooks=self._webhooks,
            abandon_after=self._abandon_after,
        )
        try:
            sock = self.bind()
        except OSError:
            app.state.engine.dispose()
            raise
        await self.serve(app, sock)
        log.info("demo store listening on %s", self.url)


async def serve_store(
    db_path: Path,
    host: str = "127.0.0.1",
    port: int = 8081,
    *,
    faults: FaultSettings | None = None,
    admin: bool | None = None,
    log_level: str = "warning",
    started: asyncio.Event | None = None,
    webhooks: StoreWebhooks | None = None,
    abandon_after: timedelta | float | None = None,
) -> None:
    """Serve the store until cancelled; cancelling shuts it down gracefully."""
    server = StoreServer(
        db_path,
        host,
        port,
        faults=faults,
        admin=admin,
        log_level=log_level,
        webhooks=webhooks,
        abandon_after=abandon_after,
    )
    await server.start()
    if started is not None:
        started.set()
    try:
        await server.wait()
    finally:
        await server.stop()
