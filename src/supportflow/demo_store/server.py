"""Run the demo store with uvicorn inside the caller's event loop (for `supportflow up`, tests).

``StoreServer`` gives explicit start/stop; ``serve_store`` runs until cancelled. Neither touches
process signal handlers: the host process owns those.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from types import TracebackType

import uvicorn

from supportflow.asgi_server import EmbeddedServer
from supportflow.demo_store.app import create_app
from supportflow.demo_store.faults import FaultSettings

log = logging.getLogger(__name__)


class StoreServer:
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
    ) -> None:
        self.db_path = db_path
        self.host = host
        self.port = port
        self._faults = faults
        self._admin = admin
        self._log_level = log_level
        self._graceful_shutdown_s = graceful_shutdown_s
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        # Opening and seeding the database is blocking I/O: keep it off the event loop.
        app = await asyncio.to_thread(
            create_app, self.db_path, faults=self._faults, admin=self._admin
        )
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say so, and
        # without it every response waits ~40 ms on delayed ACKs.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            app.state.engine.dispose()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level=self._log_level,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=int(self._graceful_shutdown_s) or 1,
        )
        server = EmbeddedServer(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="supportflow-store")
        while not server.started:
            if self._task.done():
                sock.close()
                await self._task  # re-raises the startup failure
                raise RuntimeError("store server exited during startup")
            await asyncio.sleep(0.01)
        log.info("demo store listening on %s", self.url)

    async def wait(self) -> None:
        """Until the server exits."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.shield(self._task)

    async def __aenter__(self) -> StoreServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve_store(
    db_path: Path,
    host: str = "127.0.0.1",
    port: int = 8081,
    *,
    faults: FaultSettings | None = None,
    admin: bool | None = None,
    log_level: str = "warning",
    started: asyncio.Event | None = None,
) -> None:
    """Serve the store until cancelled; cancelling shuts it down gracefully."""
    server = StoreServer(db_path, host, port, faults=faults, admin=admin, log_level=log_level)
    await server.start()
    if started is not None:
        started.set()
    try:
        await server.wait()
    finally:
        await server.stop()
