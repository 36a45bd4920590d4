"""Who talks about what: customers and orders from the store, picked per seed.

The candidates come from the shipped seed (the store has no "list orders" call); each one's
current state is read from the store's API before it is used, since a previous run may have
cancelled or changed it. A run never puts one order in two conversations, and prefers one
conversation per customer (a customer's conversations share one workflow).
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

import httpx

Doc = dict[str, Any]


@dataclass(frozen=True)
class Assignment:
    index: int
    behaviour: str
    user_id: str
    email: str
    order: Doc | None  # the order's state when picked (None: the behaviour needs none)


@cache
def seed_db() -> Doc:
    seed = resources.files("supportflow.demo_store").joinpath("seed/db.json.gz")
    with seed.open("rb") as raw, gzip.open(raw) as f:
        db: Doc = json.load(f)
    return db


async def read_order(http: httpx.AsyncClient, order_id: str) -> Doc | None:
    r = await http.get(f"/orders/{quote(order_id, safe='')}")
    if r.status_code == 404:
        return None
    r.raise_for_status()
    doc: Doc = r.json()
    return doc


def _returnable(order: Doc) -> bool:
    """Delivered, with item names that name one item each (so "return the X" is unambiguous)."""
    names = [i["name"] for i in order["items"]]
    return order["status"] == "delivered" and len(set(names)) == len(names)


def suits(need: str | None, order: Doc) -> bool:
    if need == "pending":
        return bool(order["status"] == "pending")
    if need == "delivered":
        return _returnable(order)
    if need == "any":
        return order["status"] in ("pending", "processed", "delivered")
    return True


async def assign(
    store: httpx.AsyncClient,
    plan: Sequence[tuple[str, str | None]],
    rng: random.Random,
) -> list[Assignment]:
    """One (behaviour, customer, order) per planned (behaviour, order need), deterministic for
    the rng's seed and the store's current state."""
    db = seed_db()
    orders = sorted(db["orders"].values(), key=lambda o: o["order_id"])
    rng.shuffle(orders)
    users = sorted(db["users"])
    rng.shuffle(users)
    used_orders: set[str] = set()
    used_users: set[str] = set()
    live: dict[str, Doc | None] = {}
    out: list[Assignment] = []
    for index, (behaviour, need) in enumerate(plan):
        if need is None:
            user_id = next((u for u in users if u not in used_users), users[index % len(users)])
            used_users.add(user_id)
            out.append(Assignment(index, behaviour, user_id, db["users"][user_id]["email"], None))
            continue
        chosen: Doc | None = None
        for fresh_user_only in (True, False):
            for order in orders:
                oid = order["order_id"]
                if oid in used_orders or (fresh_user_only and order["user_id"] in used_users):
                    continue
                if not suits(need, order):  # the seed's state rules most out without a call
                    continue
                if oid not in live:
                    live[oid] = await read_order(store, oid)
                current = live[oid]
                if current is not None and suits(need, current):
                    chosen = current
                    break
            if chosen is not None:
                break
        if chosen is None:
            raise RuntimeError(
                f"the store has no unused order left for {behaviour!r} ({need}); "
                "use fewer customers or a fresh store"
            )
        used_orders.add(chosen["order_id"])
        used_users.add(chosen["user_id"])
        user = db["users"][chosen["user_id"]]
        out.append(Assignment(index, behaviour, chosen["user_id"], user["email"], chosen))
    return out
