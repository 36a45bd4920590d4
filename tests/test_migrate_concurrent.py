"""Every API and worker process migrates the app database at start (`supportflow api`,
`supportflow worker`): several starting at once on a fresh Postgres must all come up, with
the schema migrated once (issue 15 item 6)."""

from __future__ import annotations

import multiprocessing
import traceback
from multiprocessing.synchronize import Barrier
from typing import TYPE_CHECKING

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from supportflow.db.migrate import alembic_config, upgrade
from supportflow.db.models import Base

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

PROCESSES = 4


def _upgrade_with_the_others(url: str, start: Barrier, errors: Queue[str]) -> None:
    """One process's start: migrate, released together with the others."""
    try:
        start.wait(60)
        upgrade(url)
    except BaseException:
        errors.put(traceback.format_exc())
        raise


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_concurrent_upgrades_of_a_fresh_postgres_all_succeed(database_url: str) -> None:
    # Processes, not threads: Alembic's `context` is one global per interpreter, as it is
    # for the processes this stands for.
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    errors: Queue[str] = ctx.Queue()
    procs = [
        ctx.Process(target=_upgrade_with_the_others, args=(database_url, start, errors))
        for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert [p.exitcode for p in procs] == [0] * PROCESSES, failures

    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert [v[0] for v in versions] == [head]
    assert set(Base.metadata.tables) <= tables
