"""Uvicorn servers embedded in a process that owns its own signal handling.

A low-level module at the package root so every server (the API under `supportflow up`, the
demo store, the chaos run's store process) can use it without importing the stack that
composes them: ``stack`` imports servers, never the other way round.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator

import uvicorn


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to the host process (`supportflow up`
    stops its parts in order; uvicorn's handlers would stop one part behind its back)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield
