"""Run Alembic migrations programmatically, so `up`, `api` and tests share one path."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

# The Postgres advisory lock every process's upgrade takes (any fixed 64-bit number that no
# other lock in the database uses; this one is "sfmigrat" in ASCII).
MIGRATION_LOCK_ID = 0x73666D6967726174


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "supportflow:migrations")
    # ConfigParser interpolation would choke on '%' in a URL-encoded password.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the app database to ``revision``. Every API and worker process does this at
    start; on Postgres they take turns under an advisory lock, so of several processes
    starting on a fresh database one migrates and the others find nothing left to do
    (unlocked, they raced to create the same tables and all but one failed). SQLite needs no
    lock: one file, one machine, its own write lock."""
    if make_url(url).get_backend_name() != "postgresql":
        command.upgrade(alembic_config(url), revision)
        return
    # A session lock on a connection of its own, in autocommit (no transaction stays open
    # while it waits): closing that connection (NullPool: really closed) releases it, as
    # Postgres does when the process dies mid-migration.
    engine = create_engine(url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            command.upgrade(alembic_config(url), revision)
    finally:
        engine.dispose()
