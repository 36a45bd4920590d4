"""Abandoned checkouts: announced (checkouts/create went out), not completed within
``abandon_after`` seconds, reported once with checkouts/abandoned (the demo store's own
topic: Shopify has none; its payload is the checkout's)."""

from __future__ import annotations

from sqlalchemy import Engine

from supportflow.demo_store.db import read_transaction, write_transaction
from supportflow.demo_store.repository import StoreRepository, utc_now
from supportflow.demo_store.sales_records import SalesRecords
from supportflow.demo_store.webhooks.outbox import enqueue
from supportflow.demo_store.webhooks.payloads import checkout_payload

TOPIC = "checkouts/abandoned"


def report_abandoned(engine: Engine, *, abandon_after_s: float, now: float) -> int:
    """Mark and report every checkout due; returns how many. Marking and the outbox row share
    one transaction, so a checkout is reported once, and never once it is completed."""
    cutoff = now - abandon_after_s
    with read_transaction(engine) as conn:
        if not SalesRecords(conn).abandoned_candidates(cutoff, limit=1):
            return 0  # the usual look: no write lock taken
    with write_transaction(engine) as conn:
        repo = StoreRepository(conn, emit_webhooks=True)
        records = SalesRecords(conn)
        due = records.abandoned_candidates(cutoff)
        for checkout_id in due:
            checkout = records.get_checkout(checkout_id)
            assert checkout is not None
            user = repo.get_user(checkout["customer_id"])
            assert user is not None
            checkout["abandoned_at"] = utc_now()
            records.save_checkout(checkout)
            enqueue(repo, TOPIC, user["user_id"], checkout_payload(checkout, user))
        return len(due)


def next_abandon_ts(engine: Engine, *, abandon_after_s: float) -> float | None:
    """When the oldest open announced checkout falls due (None: there is none)."""
    with read_transaction(engine) as conn:
        oldest = SalesRecords(conn).oldest_open_checkout_ts()
    return oldest + abandon_after_s if oldest is not None else None
