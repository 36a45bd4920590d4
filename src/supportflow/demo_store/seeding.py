"""Load the shipped tau2-bench retail seed into an empty store database, exactly once."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from supportflow.demo_store.db import write_transaction
from supportflow.demo_store.identity import assign_phones
from supportflow.demo_store.money import to_cents
from supportflow.demo_store.repository import StoreRepository, utc_now

_SEEDED_KEY = "seeded_at"


def load_seed(seed_path: Path | None = None) -> dict[str, Any]:
    """The seed document: keys products, users, orders (dicts keyed by id)."""
    if seed_path is not None:
        raw = seed_path.read_bytes()
    else:
        raw = resources.files("supportflow.demo_store").joinpath("seed/db.json.gz").read_bytes()
    data: dict[str, Any] = json.loads(gzip.decompress(raw))
    return data


def seed_if_empty(engine: Engine, seed_path: Path | None = None) -> bool:
    """Seed a fresh database; return False (and touch nothing) if it was seeded before.

    The check and the inserts share one write transaction, so two processes starting on the
    same file cannot both seed it.
    """
    with write_transaction(engine) as conn:
        repo = StoreRepository(conn)
        if repo.get_meta(_SEEDED_KEY) is not None:
            return False
        data = load_seed(seed_path)
        for product in data["products"].values():
            repo.insert_product(product)
        # The seed has no phones: each user gets its fictional number here (identity.py).
        phones = assign_phones(data["users"])
        for user_id in sorted(data["users"]):
            user = data["users"][user_id]
            user["phone"] = phones[user_id]
            repo.insert_user(user)
            _open_gift_cards(repo, user)
        for order in data["orders"].values():
            repo.insert_order(order)
        repo.set_meta(_SEEDED_KEY, utc_now())
        return True


def _open_gift_cards(repo: StoreRepository, user: dict[str, Any]) -> None:
    for method in user["payment_methods"].values():
        if method["source"] == "gift_card":
            cents = to_cents(method["balance"])
            repo.record_gift_card_movement(
                user_id=user["user_id"],
                payment_method_id=method["id"],
                order_id=None,
                operation="opening_balance",
                delta_cents=cents,
                balance_cents=cents,
            )
