"""A real, migrated SQLite app database with two tenants."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.tenants.service import CreatedTenant, create_tenant


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def shop_a(sessions: sessionmaker[Session]) -> CreatedTenant:
    return create_tenant(sessions, "Shop A")


@pytest.fixture
def shop_b(sessions: sessionmaker[Session]) -> CreatedTenant:
    return create_tenant(sessions, "Shop B")
