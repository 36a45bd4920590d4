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
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
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

# -- sales (issue 14): checkouts, discount codes, outgoing webhooks ---------------------------

# A cart about to become an order. ``doc`` is what GET /checkouts/{id} returns; the columns are
# what the abandoned-checkout scan and the invariant checker look up. ``announced``: a
# checkouts/create webhook went out for it (only those can be reported abandoned).
checkouts = Table(
    "checkouts",
    metadata,
    Column("checkout_id", String, primary_key=True),
    Column("token", String, nullable=False, unique=True),
    Column("user_id", String, nullable=False, index=True),
    Column("created_ts", Float, nullable=False),
    Column("completed_order_id", String, nullable=True, unique=True),
    Column("announced", Boolean, nullable=False, default=False),
    Column("abandoned_at", String, nullable=True),
    Column("doc", JSON, nullable=False),
    Index("ix_checkouts_open", "completed_order_id", "abandoned_at", "created_ts"),
)

# Codes are kept upper-case (they are matched case-insensitively, as Shopify does). Money is
# in cents for fixed amounts; a percentage is kept as given (1-100).
discount_codes = Table(
    "discount_codes",
    metadata,
    Column("code", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("value", Float, nullable=False),
    Column("expires_ts", Float, nullable=False),
    Column("expires_at", String, nullable=False),
    Column("usage_limit", Integer, nullable=False),
    Column("customer_id", String, nullable=True),
    Column("order_id", String, nullable=True),
    Column("created_at", String, nullable=False),
)

# One row per order that used a code; released_at is set when that order is cancelled, which
# gives the use back. Active uses (released_at NULL) never exceed the code's usage_limit.
discount_usages = Table(
    "discount_usages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String, nullable=False, index=True),
    Column("order_id", String, nullable=False, index=True),
    Column("amount_cents", Integer, nullable=False),
    Column("used_at", String, nullable=False),
    Column("released_at", String, nullable=True),
)

# Transactional outbox: a webhook is written in the transaction that made the change, and a
# background task delivers it (webhooks/dispatcher.py). ``body`` is the exact text signed and
# sent, so every retry sends the same bytes under the same webhook id. Per ``entity_key``
# (the customer) only the oldest pending row is tried, which keeps their events in order.
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", String, nullable=False, unique=True),
    Column("event_id", String, nullable=False),
    Column("topic", String, nullable=False),
    Column("entity_key", String, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", String, nullable=False),
    Column("status", String, nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_ts", Float, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String, nullable=True),
    Column("finished_at", String, nullable=True),
    Index("ix_webhook_outbox_pending", "status", "entity_key", "id"),
)

# -- end sales ---------------------------------------------------------------------------------

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
