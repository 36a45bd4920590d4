"""What a simulated shopper does at the demo store: browse, check out, buy, look up a code.

Calls the store's public API (demo_store/README.md) as a storefront would. Every write
carries an Idempotency-Key, so a call retried after a dropped connection or a 5xx is applied
once. Who shops is picked from the shipped seed: customers with an email and a card or PayPal
(a gift card may not cover the cart), and only ones who have placed no order since the store
was seeded (an earlier run's buyer would bring its own sales history into this one).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from supportflow.sim.population import seed_db
from supportflow.sim.shopper_model import Offer

Doc = dict[str, Any]
ATTEMPTS = 4
RETRY_S = 0.5


class StoreRefused(Exception):
    """A 4xx from the store: the request will not succeed as it is."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"http {status}: {detail[:200]}")
        self.status = status


@dataclass(frozen=True)
class Customer:
    user_id: str
    email: str
    payment_method_id: str


def _payment_method(user: Doc) -> str | None:
    methods = sorted(user.get("payment_methods", {}).values(), key=lambda m: str(m["id"]))
    for method in methods:
        if method.get("source") in ("credit_card", "paypal"):
            return str(method["id"])
    return None


async def pick_customers(
    store: httpx.AsyncClient, count: int, seed: int, exclude: frozenset[str] = frozenset()
) -> list[Customer]:
    """``count`` customers for run ``seed``: shuffled on a stream of their own, each checked
    at the store (it exists, and has placed no order since the store was seeded)."""
    users: dict[str, Doc] = seed_db()["users"]
    candidates = sorted(
        u
        for u, doc in users.items()
        if doc.get("email") and _payment_method(doc) and u not in exclude
    )
    random.Random(f"{seed}:shoppers").shuffle(candidates)
    picked: list[Customer] = []
    for user_id in candidates:
        if len(picked) == count:
            break
        r = await store.get(f"/users/{quote(user_id, safe='')}")
        if r.status_code == 404:
            continue
        r.raise_for_status()
        live: Doc = r.json()
        if list(live.get("orders", [])) != list(users[user_id].get("orders", [])):
            continue  # bought since seeding: an earlier run's shopper
        method = _payment_method(live)
        if method is None or not live.get("email"):
            continue
        picked.append(Customer(user_id, str(live["email"]), method))
    if len(picked) < count:
        raise RuntimeError(
            f"the store has {len(picked)} unused customers with an email and a card or PayPal, "
            f"fewer than the {count} shoppers asked for: use fewer shoppers or a fresh stack"
        )
    return picked


class ShopperStore:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def _call(self, method: str, path: str, key: str | None = None, **kw: Any) -> Doc:
        headers = {"Idempotency-Key": key} if key else None
        last: str = ""
        for attempt in range(ATTEMPTS):
            try:
                r = await self._http.request(method, path, headers=headers, **kw)
            except httpx.HTTPError as err:
                last = f"transport: {type(err).__name__}"
            else:
                if r.status_code < 400:
                    doc: Doc = r.json()
                    return doc
                if r.status_code < 500:
                    raise StoreRefused(r.status_code, r.text)
                last = f"http {r.status_code}"
            await asyncio.sleep(RETRY_S * 2**attempt)
        raise httpx.TransportError(f"the store did not answer {method} {path} ({last})")

    async def catalogue(self) -> list[str]:
        """Every product id, sorted (the order a seed's draws are made against)."""
        doc = await self._call("GET", "/products")
        return sorted(str(p["product_id"]) for p in doc["products"])

    async def product(self, product_id: str) -> Doc:
        return await self._call("GET", f"/products/{quote(product_id, safe='')}")

    async def create_checkout(
        self, customer: Customer, item_id: str, consents: bool, key: str
    ) -> Doc:
        body = {
            "user_id": customer.user_id,
            "items": [{"item_id": item_id, "quantity": 1}],
            "accepts_email_marketing": consents,
            "accepts_sms_marketing": False,
        }
        return await self._call("POST", "/checkouts", key, json=body)

    async def complete(
        self, checkout_id: str, customer: Customer, code: str | None, key: str
    ) -> Doc:
        body: Doc = {"payment_method_id": customer.payment_method_id}
        if code is not None:
            body["discount_code"] = code
        path = f"/checkouts/{quote(checkout_id, safe='')}/complete"
        return await self._call("POST", path, key, json=body)

    async def offer(self, code: str | None) -> Offer:
        """What a code is worth, as the store says (no code, or one it does not know: none)."""
        if code is None:
            return Offer()
        try:
            doc = await self._call("GET", f"/discount_codes/{quote(code, safe='')}")
        except StoreRefused:
            return Offer()
        kind = str(doc.get("kind"))
        if kind not in ("percentage", "fixed_amount", "free_shipping"):
            return Offer()
        return Offer(kind=kind, value=float(doc.get("value") or 0))  # type: ignore[arg-type]

    async def pending_webhooks(self) -> int | None:
        """Store webhooks not yet delivered; None when the store's /admin routes are off."""
        r = await self._http.get("/admin/webhooks", params={"status": "pending"})
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return len(r.json()["deliveries"])


def available_item(product: Doc, rng: random.Random) -> tuple[str, float] | None:
    """An available variant of ``product`` (item id, price), drawn by ``rng``; None if the
    product has none in stock."""
    variants = sorted(
        (v for v in product.get("variants", {}).values() if v.get("available")),
        key=lambda v: str(v["item_id"]),
    )
    if not variants:
        return None
    chosen = rng.choice(variants)
    return str(chosen["item_id"]), float(chosen["price"])
