"""Shared fixtures: the engine loads the cached model (trained once, on first use)."""

from __future__ import annotations

import pytest

from supportflow.understanding.local import LocalEngine, get_local_engine


@pytest.fixture(scope="session")
def engine() -> LocalEngine:
    return get_local_engine()
