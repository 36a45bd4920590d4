"""The demo store's own SQLite database: schema, engine and transactions.

Each record is kept as the seed's JSON document (so the read API stays byte-compatible with
tau2-bench's db.json) next to the few columns lookups need, indexed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("user_id", String, primary_key=True),
    Column("email_key", String, nullable=False, unique=True),
    Column("first_name_key", String, nullable=False),
    Column("last_name_key", String, nullable=False),
    Column("zip", String, nullable=False),
    Column("phone", String, nullable=False, unique=True),
    Column("doc", JSON, nullable=False),
    Index("ix_users_name_zip", "last_name_key", "first_name_key", "zip"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String, primary_key=True),
    Column("user_id", String, nullable=False, index=True),
    Column("status", String, nullable=False),
    Column("doc", JSON, nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("product_id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("doc", JSON, nullable=False),
)

# An active hold keeps a pending order still while a cancel saga runs; the row is deleted on
# release or cancel. refunded_cents remembers refunds made under the hold (they block release).
holds = Table(
    "holds",
    metadata,
    Column("order_id", String, primary_key=True),
    Column("reason", String, nullable=True),
    Column("refunded_cents", Integer, nullable=False, default=0),
    Column("held_at", String, nullable=False),
)

# Every gift card balance movement, starting with the seed's opening balance, so the invariant
# checker can prove balance == sum of movements.
gift_card_ledger = Table(
    "gift_card_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String, nullable=False),
    Column("payment_method_id", String, nullable=False, index=True),
    Column("order_id", String, nullable=True),
    Column("operation", String, nullable=False),
    Column("delta_cents", Integer, nullable=False),
    Column("balance_cents", Integer, nullable=False),
    Column("at", String, nullable=False),
)

# Append-only record of applied writes: one row per effect, so tests can count effects.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String, nullable=False),
    Column("operation", String, nullable=False),
    Column("entity_id", String, nullable=False, index=True),
    Column("idempotency_key", String, nullable=True),
    Column("request", JSON, nullable=False),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("key", String, primary_key=True),
    Column("operation", String, nullable=False),
    Column("request_hash", String, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", String, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)

_WRITE_OPTION = "store_write"


def create_store_engine(db_path: Path) -> Engine:
    """Engine on a SQLite file in WAL mode, shared across the server's worker threads."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{db_path}",
        # Requests run in a thread pool; pooled connections move between threads.
        connect_args={"check_same_thread": False, "timeout": 30.0},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module so writes can say BEGIN IMMEDIATE (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write takes the write lock up front: check-then-write (idempotency key, order status)
        # is then serialized, and a deferred read lock can never fail to upgrade mid-transaction.
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    metadata.create_all(engine)
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One serialized write transaction: committed on success, rolled back on any exception."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A consistent snapshot for reads; WAL lets it run alongside a writer."""
    with engine.connect() as conn, conn.begin():
        yield conn
