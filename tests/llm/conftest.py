"""Fixtures: one stand-in LLM server per session (see standin.py), reset before each test, and
the real local engine (an LLM engine always reads beside it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from supportflow.understanding.local import LocalEngine, get_local_engine
from tests.llm.standin import StandIn, start


@pytest.fixture(scope="session")
def _standin_server() -> Iterator[StandIn]:
    state, server, thread = start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def standin(_standin_server: StandIn) -> StandIn:
    _standin_server.reset()
    return _standin_server


@pytest.fixture(scope="session")
def local() -> LocalEngine:
    return get_local_engine()
