"""Bring a store database made by an older version up to date, idempotently, at startup.

Seeding happens once per database (``seeding.py``), so what a newer version adds to the
records must also reach databases seeded before it. Today that is each user's phone: a
database without the ``phone`` column (or with users lacking one) gets the column and the
same numbers a fresh seed would give (``identity.assign_phones``, sorted ids, numbers already
in use skipped). A second run finds nothing to do and writes nothing.

New tables (the sales tables of issue 14: checkouts, discount codes and their uses, the webhook
outbox) need nothing here: ``db.create_store_engine`` runs ``create_all``, which creates the
tables a database lacks and leaves existing ones and their rows alone. New keys on orders
(``checkout_id``, ``discount_codes``) are optional: readers treat a seed order without them as
having no checkout and no discount.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, func, inspect, or_, select, update

from supportflow.demo_store import db
from supportflow.demo_store.identity import assign_phones

# A fresh database has the column's UNIQUE constraint from its CREATE TABLE; SQLite cannot add
# a constraint to an existing table, so an upgraded one gets a unique index instead.
_PHONE_INDEX = "ux_users_phone"


def add_missing_phones(engine: Engine) -> int:
    """Give every user without a phone one (column and JSON document); returns how many."""
    with db.read_transaction(engine) as conn:
        if _has_phone_column(conn) and not _missing(conn):
            return 0  # the usual start: no write lock taken
    # Checked again under the write lock: another process may have upgraded meanwhile.
    with db.write_transaction(engine) as conn:
        if not _has_phone_column(conn):
            conn.exec_driver_sql("ALTER TABLE users ADD COLUMN phone VARCHAR")
            conn.exec_driver_sql(f"CREATE UNIQUE INDEX {_PHONE_INDEX} ON users (phone)")
        missing = _missing(conn)
        if not missing:
            return 0
        taken = [p for p in conn.execute(select(db.users.c.phone)).scalars() if p]
        # A document that kept its phone while the column lost it keeps that number.
        kept = {row.user_id: row.doc.get("phone") for row in missing if row.doc.get("phone")}
        fresh = assign_phones(
            [row.user_id for row in missing if not (row.phone or row.user_id in kept)],
            taken=[*taken, *kept.values()],
        )
        for row in missing:
            phone = row.phone or kept.get(row.user_id) or fresh[row.user_id]
            conn.execute(
                update(db.users)
                .where(db.users.c.user_id == row.user_id)
                .values(phone=phone, doc={**row.doc, "phone": phone})
            )
        return len(missing)


def _has_phone_column(conn: Connection) -> bool:
    return any(column["name"] == "phone" for column in inspect(conn).get_columns("users"))


def _missing(conn: Connection) -> list[Any]:
    """Users whose column or document lacks the phone (rows: user_id, phone, doc)."""
    users = db.users
    stmt = select(users.c.user_id, users.c.phone, users.c.doc).where(
        or_(users.c.phone.is_(None), func.json_extract(users.c.doc, "$.phone").is_(None))
    )
    return list(conn.execute(stmt))
