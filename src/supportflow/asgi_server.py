"""Uvicorn servers embedded in a process that owns its own signal handling.

A low-level module at the package root so every server (the API under `supportflow up`, the
demo store, the chaos run's store process) can use it without importing the stack that
composes them: ``stack`` imports servers, never the other way round.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self

import uvicorn

if TYPE_CHECKING:
    from starlette.applications import Starlette


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to the host process (`supportflow up`
    stops its parts in order; uvicorn's handlers would stop one part behind its back)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class LoopbackServer:
    """An ASGI app under uvicorn in the caller's event loop, on ``host:port`` (port 0 picks a
    free one; ``port`` and ``url`` are real after ``start``). The demo store and the local
    stand-in for Twilio's API run this way in `supportflow up` and tests."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        name: str,
        log_level: str = "warning",
        lifespan: Literal["on", "off"] = "on",
        graceful_shutdown_s: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self._name = name
        self._log_level = log_level
        self._lifespan: Literal["on", "off"] = lifespan
        self._graceful_shutdown_s = graceful_shutdown_s
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> socket.socket:
        """The listening socket. proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on
        sockets that say so, and without it every response waits ~40 ms on delayed ACKs."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        return sock

    async def serve(self, app: Starlette, sock: socket.socket) -> None:
        """Serve ``app`` on ``sock`` (from ``bind``); returns once it accepts requests."""
        config = uvicorn.Config(
            app,
            log_level=self._log_level,
            access_log=False,
            lifespan=self._lifespan,
            timeout_graceful_shutdown=int(self._graceful_shutdown_s) or 1,
        )
        server = EmbeddedServer(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name=self._name)
        while not server.started:
            if self._task.done():
                sock.close()
                await self._task  # re-raises the startup failure
                raise RuntimeError(f"{self._name} exited during startup")
            await asyncio.sleep(0.01)

    async def start(self) -> None:
        """Build the app and ``serve`` it (each server says how)."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def wait(self) -> None:
        """Until the server exits."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.shield(self._task)
        self._server = self._task = None
