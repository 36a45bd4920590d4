"""The app database migrated to head, on SQLite and (when configured) Postgres, and the CLI
as an operator runs it against that database."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from tests.helpers import SUPPORTFLOW, TEST_ENCRYPTION_KEYS


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SUPPORTFLOW, *args],
        env={
            **os.environ,
            "SUPPORTFLOW_DATABASE_URL": database_url,
            "SUPPORTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
