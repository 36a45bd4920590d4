"""Shared by the sales tests (issue 14): seed picks, a store with webhooks, small HTTP calls."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from supportflow.demo_store.seeding import load_seed
from supportflow.demo_store.webhooks.config import StoreWebhooks
from tests.demo_store.conftest import ThreadedStore
from tests.demo_store.webhook_receiver import SECRET

Doc = dict[str, Any]
SEED = load_seed()


def key() -> str:
    return uuid.uuid4().hex


def fast_webhooks(url: str, **overrides: Any) -> StoreWebhooks:
    """Retries in tenths of a second, so the tests see several attempts quickly."""
    settings: Doc = {
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.2,
        "poll_interval_s": 0.1,
        "timeout_s": 2.0,
        "max_attempts": 8,
    }
    settings.update(overrides)
    return StoreWebhooks(url=url, secret=SECRET, **settings)


@contextmanager
def running_store(
    db_path: Path, *, webhooks: StoreWebhooks | None, abandon_after: float = 600
) -> Iterator[tuple[ThreadedStore, httpx.Client]]:
    with (
        ThreadedStore(db_path, admin=True, webhooks=webhooks, abandon_after=abandon_after) as s,
        httpx.Client(base_url=s.url, timeout=10) as http,
    ):
        yield s, http


def users_paying_with(source: str) -> list[str]:
    return [
        uid
        for uid in sorted(SEED["users"])
        if any(m["source"] == source for m in SEED["users"][uid]["payment_methods"].values())
    ]


def gift_card_users(min_balance: float) -> list[str]:
    """Users whose first gift card holds at least ``min_balance``."""
    return [
        uid
        for uid in users_paying_with("gift_card")
        if SEED["users"][uid]["payment_methods"][method_of(uid, "gift_card")]["balance"]
        >= min_balance
    ]


def method_of(user_id: str, source: str) -> str:
    methods = SEED["users"][user_id]["payment_methods"].values()
    return str(next(m["id"] for m in methods if m["source"] == source))


def available_items(n: int, *, max_price: float = 500.0) -> list[Doc]:
    """``n`` available variants of different products, each at most ``max_price``."""
    found: list[Doc] = []
    for product in sorted(SEED["products"].values(), key=lambda p: p["product_id"]):
        for variant in product["variants"].values():
            if variant["available"] and variant["price"] <= max_price:
                found.append({**variant, "product_id": product["product_id"]})
                break
        if len(found) == n:
            return found
    raise LookupError("not enough available items")


def unavailable_item() -> str:
    for product in SEED["products"].values():
        for variant in product["variants"].values():
            if not variant["available"]:
                return str(variant["item_id"])
    raise LookupError


def create_checkout(http: httpx.Client, user_id: str, items: dict[str, int], **extra: Any) -> Doc:
    body = {
        "user_id": user_id,
        "items": [{"item_id": i, "quantity": q} for i, q in items.items()],
        **extra,
    }
    r = http.post("/checkouts", json=body, headers={"Idempotency-Key": key()})
    assert r.status_code == 201, r.text
    checkout: Doc = r.json()
    return checkout


def complete(
    http: httpx.Client, checkout_id: str, method: str, *, k: str | None = None, **extra: Any
) -> httpx.Response:
    return http.post(
        f"/checkouts/{checkout_id}/complete",
        json={"payment_method_id": method, **extra},
        headers={"Idempotency-Key": k or key()},
    )


def create_code(http: httpx.Client, *, k: str | None = None, **body: Any) -> httpx.Response:
    body.setdefault("expires_at", "2999-01-01T00:00:00Z")
    return http.post("/discount_codes", json=body, headers={"Idempotency-Key": k or key()})


def order_path(order_id: str) -> str:
    return "/orders/" + order_id.replace("#", "%23")


def violations(http: httpx.Client) -> list[Doc]:
    found: list[Doc] = http.get("/admin/invariants").json()["violations"]
    return found


def deliveries(http: httpx.Client, **params: str) -> list[Doc]:
    found: list[Doc] = http.get("/admin/webhooks", params=params).json()["deliveries"]
    return found
