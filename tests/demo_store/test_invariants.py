"""Invariants hold after any sequence of writes (hypothesis), and the checker catches breakage.

Each step reads the order, draws a write against it (sometimes a wrong one, or a replay of the
previous request), and asserts: only 200/404/409 come back, a refusal changes nothing, a replay
answers exactly as before. After each sequence the invariant checker must find nothing.
"""

from __future__ import annotations

import asyncio
import random
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from supportflow.demo_store import db
from supportflow.demo_store.db import create_store_engine, write_transaction
from supportflow.demo_store.invariants import check
from supportflow.demo_store.seeding import load_seed, seed_if_empty
from supportflow.demo_store.server import serve_store
from supportflow.store.adapters.demo_client import StoreClient
from tests.demo_store.conftest import Doc, ThreadedStore

SEED = load_seed()
# A few dozen customers with gift cards: small enough that steps collide on the same orders.
POOL_USERS = [
    uid
    for uid in sorted(SEED["users"])
    if any(m["source"] == "gift_card" for m in SEED["users"][uid]["payment_methods"].values())
][:25]
POOL_ORDERS = [oid for uid in POOL_USERS for oid in SEED["users"][uid]["orders"]]
OPERATIONS = [
    "cancel",
    "address",
    "payment",
    "items",
    "return",
    "exchange",
    "hold",
    "release",
    "refund",
    "user_address",
]
ADDRESS = {
    "address1": "9 Property Lane",
    "address2": "",
    "city": "Austin",
    "country": "USA",
    "state": "TX",
    "zip": "73301",
}


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedStore]:
    with ThreadedStore(tmp_path_factory.mktemp("fuzz") / "store.db", admin=True) as running:
        yield running


def _variant_for(item: Doc, rnd: random.Random) -> str:
    roll = rnd.random()
    if roll < 0.1:  # another product's item: must be refused
        product = SEED["products"][rnd.choice(sorted(SEED["products"]))]
        return str(rnd.choice(sorted(product["variants"])))
    if roll < 0.15:
        return str(item["item_id"])  # the same item: must be refused
    return str(rnd.choice(sorted(SEED["products"][item["product_id"]]["variants"])))


def _method(user: Doc, rnd: random.Random) -> str:
    if rnd.random() < 0.1:  # someone else's: must be refused
        stranger = SEED["users"][rnd.choice(sorted(SEED["users"]))]
        return str(rnd.choice(sorted(stranger["payment_methods"])))
    return str(rnd.choice(sorted(user["payment_methods"])))


def _request(op: str, order: Doc, user: Doc, rnd: random.Random) -> tuple[str, dict[str, Any]]:
    """(path, json body) for one drawn write."""
    path = "/orders/" + order["order_id"].replace("#", "%23")
    items = rnd.sample(order["items"], rnd.randint(1, len(order["items"])))
    item_ids = [i["item_id"] for i in items]
    if op == "cancel":
        return f"{path}/cancel", {"reason": rnd.choice(["no longer needed", "ordered by mistake"])}
    if op == "address":
        return f"{path}/address", ADDRESS
    if op == "payment":
        return f"{path}/payment", {"payment_method_id": _method(user, rnd)}
    if op in ("items", "exchange"):
        body = {
            "item_ids": item_ids,
            "new_item_ids": [_variant_for(i, rnd) for i in items],
            "payment_method_id": _method(user, rnd),
        }
        return f"{path}/{op}", body
    if op == "return":
        return f"{path}/return", {"item_ids": item_ids, "payment_method_id": _method(user, rnd)}
    if op == "hold":
        return f"{path}/hold", {"reason": "fuzz"}
    if op == "release":
        return f"{path}/release", {}
    if op == "refund":
        paid = order["payment_history"][0]
        amount = rnd.choice([None, round(paid["amount"] * rnd.uniform(0.1, 1.2), 2)])
        method = rnd.choice([None, paid["payment_method_id"], _method(user, rnd)])
        return f"{path}/refund", {"amount": amount, "payment_method_id": method}
    return f"/users/{user['user_id']}/address", ADDRESS


def _state(http: httpx.Client, order_id: str, user_id: str) -> tuple[Doc, Doc]:
    order = http.get("/orders/" + order_id.replace("#", "%23")).json()
    return order, http.get(f"/users/{user_id}").json()


steps = st.lists(
    st.tuples(
        st.sampled_from(OPERATIONS),
        st.sampled_from(POOL_ORDERS),
        st.booleans(),  # replay the previous request with its key
        st.randoms(use_true_random=False),
    ),
    min_size=1,
    max_size=15,
)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_invariants_hold_after_random_writes(
    fuzz_store: ThreadedStore, steps: list[tuple[str, str, bool, random.Random]]
) -> None:
    last: tuple[str, dict[str, Any], str, httpx.Response] | None = None
    with httpx.Client(base_url=fuzz_store.url, timeout=10) as http:
        for op, order_id, replay, rnd in steps:
            if replay and last is not None:
                path, body, k, first = last
                again = http.post(path, json=body, headers={"Idempotency-Key": k})
                assert (again.status_code, again.content) == (first.status_code, first.content)
                continue
            user_id = SEED["orders"][order_id]["user_id"]
            before = _state(http, order_id, user_id)
            path, body = _request(op, before[0], before[1], rnd)
            k = uuid.uuid4().hex
            response = http.post(path, json=body, headers={"Idempotency-Key": k})
            assert response.status_code in (200, 404, 409), response.text
            if response.status_code != 200:
                assert _state(http, order_id, user_id) == before  # no partial change
            last = (path, body, k, response)
    violations = check(fuzz_store.db_path)
    assert violations == [], [str(v) for v in violations]


def test_fresh_seed_has_no_violations(tmp_path: Path) -> None:
    engine = create_store_engine(tmp_path / "s.db")
    seed_if_empty(engine)
    assert check(engine) == []
    engine.dispose()


def test_checker_catches_tampering(tmp_path: Path) -> None:
    engine = create_store_engine(tmp_path / "s.db")
    seed_if_empty(engine)
    user = next(u for u in SEED["users"].values() if "gift_card" in str(u["payment_methods"]))
    card = next(m for m in user["payment_methods"].values() if m["source"] == "gift_card")
    order_id = next(o for o in user["orders"] if SEED["orders"][o]["status"] == "pending")
    order = SEED["orders"][order_id]
    with write_transaction(engine) as conn:
        stored = {**user, "payment_methods": {**user["payment_methods"]}}
        stored["payment_methods"][card["id"]] = {**card, "balance": card["balance"] + 5}
        conn.execute(
            update(db.users).where(db.users.c.user_id == user["user_id"]).values(doc=stored)
        )
        refund = {**order["payment_history"][0], "transaction_type": "refund"}
        doubled = {**order, "payment_history": [*order["payment_history"], refund, refund]}
        conn.execute(update(db.orders).where(db.orders.c.order_id == order_id).values(doc=doubled))
    rules = {(v.rule, v.subject) for v in check(engine)}
    engine.dispose()
    assert ("gift-card=ledger", card["id"]) in rules
    assert ("refund<=paid", order_id) in rules


async def test_serve_store_runs_as_a_task_and_stops_on_cancel(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = asyncio.Event()
    task = asyncio.create_task(serve_store(tmp_path / "t.db", "127.0.0.1", port, started=started))
    await asyncio.wait_for(started.wait(), 60)
    async with StoreClient(f"http://127.0.0.1:{port}") as client:
        assert await client.health()
        assert (await client.get_order("#W2611340") or {}).get("order_id") == "#W2611340"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with StoreClient(f"http://127.0.0.1:{port}", timeout=1) as client:
        assert not await client.health()
