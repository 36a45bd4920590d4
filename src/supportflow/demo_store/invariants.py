"""Invariants of the store's money and order state; tests assert ``check(...) == []``.

- per order: refunds never exceed payments;
- a cancelled order is fully refunded; any other order's net payment equals its items' total,
  except under a cancel-saga hold, where refunds may already have gone out;
- every payment method in an order's history belongs to the order's user;
- every gift card balance is non-negative and equals the sum of its recorded movements;
- every order is in its user's ``orders`` list.

Sales (issue 14): an order's total is its items less its ``discount_codes`` amounts; a
completed checkout's order exists, is its customer's and names the checkout; a discount code
is in use by at most ``usage_limit`` orders, and never by a cancelled one (released on cancel).

``doubled_effects`` checks the store's log of applied writes: one effect per idempotency key.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from supportflow.demo_store.db import create_store_engine, read_transaction
from supportflow.demo_store.db import events as events_table
from supportflow.demo_store.money import to_cents
from supportflow.demo_store.repository import Doc, Hold, StoreRepository
from supportflow.demo_store.sales_records import SalesRecords


@dataclass(frozen=True)
class Violation:
    rule: str
    subject: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.rule} [{self.subject}]: {self.message}"


def check(db: Engine | Path) -> list[Violation]:
    """All violations in the store database (an engine, or the path of its file)."""
    engine = create_store_engine(db) if isinstance(db, Path) else db
    try:
        with read_transaction(engine) as conn:
            repo = StoreRepository(conn)
            users = {u["user_id"]: u for u in repo.all_users()}
            holds = repo.active_holds()
            violations: list[Violation] = []
            for order in repo.all_orders():
                violations += _check_order(order, users, holds.get(order["order_id"]))
            violations += _check_gift_cards(users, repo.gift_card_ledger_sums())
            violations += _check_sales(SalesRecords(conn), repo, users)
            return violations
    finally:
        if isinstance(db, Path):
            engine.dispose()


def applied_writes(db: Engine | Path) -> list[Doc]:
    """Every applied write in the store's event log, oldest first (one row per effect)."""
    engine = create_store_engine(db) if isinstance(db, Path) else db
    try:
        with read_transaction(engine) as conn:
            rows = conn.execute(select(events_table).order_by(events_table.c.id))
            return [dict(row._mapping) for row in rows]
    finally:
        if isinstance(db, Path):
            engine.dispose()


def doubled_effects(events: Iterable[Mapping[str, Any]]) -> list[Violation]:
    """Idempotency keys whose write was applied more than once (``events`` as logged by the
    store: ``/admin/events`` or ``applied_writes``). Writes without a key are not counted."""
    per_key = Counter(e["idempotency_key"] for e in events if e["idempotency_key"] is not None)
    return [
        Violation("one-effect-per-key", str(key), f"applied {n} times")
        for key, n in sorted(per_key.items())
        if n > 1
    ]


def _check_order(order: Doc, users: dict[str, Doc], hold: Hold | None) -> list[Violation]:
    oid = order["order_id"]
    out: list[Violation] = []
    paid = refunded = 0
    for entry in order["payment_history"]:
        cents = to_cents(entry["amount"])
        if entry["transaction_type"] == "payment":
            paid += cents
        else:
            refunded += cents
    if refunded > paid:
        out.append(Violation("refund<=paid", oid, f"refunded {refunded}c > paid {paid}c"))
    net = paid - refunded
    discounts = sum(to_cents(d["amount"]) for d in order.get("discount_codes", []))
    items_total = sum(to_cents(item["price"]) for item in order["items"]) - discounts
    if order["status"] == "cancelled":
        if net != 0:
            out.append(Violation("cancelled-refunded", oid, f"net paid {net}c after cancel"))
    elif hold is not None and hold.refunded_cents:
        if net != items_total - hold.refunded_cents:
            out.append(Violation("hold-refunds", oid, f"net {net}c, items {items_total}c"))
    elif net != items_total:
        out.append(Violation("paid=items", oid, f"net paid {net}c != items {items_total}c"))
    user = users.get(order["user_id"])
    if user is None:
        out.append(Violation("order-user", oid, f"unknown user {order['user_id']}"))
        return out
    for entry in order["payment_history"]:
        if entry["payment_method_id"] not in user["payment_methods"]:
            out.append(Violation("method-owner", oid, f"{entry['payment_method_id']} not user's"))
    if oid not in user["orders"]:
        out.append(Violation("user-orders", oid, f"not in {order['user_id']}'s orders"))
    return out


def _check_sales(
    records: SalesRecords, repo: StoreRepository, users: dict[str, Doc]
) -> list[Violation]:
    out: list[Violation] = []
    for checkout in records.all_checkouts():
        oid = checkout["completed_order_id"]
        if oid is None:
            continue
        order = repo.get_order(oid)
        if order is None:
            out.append(Violation("checkout-order", checkout["id"], f"order {oid} missing"))
        elif (
            order["user_id"] != checkout["customer_id"]
            or order.get("checkout_id") != checkout["id"]
        ):
            out.append(Violation("checkout-order", checkout["id"], f"order {oid} not its own"))
    limits = {d.code: d.usage_limit for d in records.all_discounts()}
    active: dict[str, int] = defaultdict(int)
    for use in records.all_uses():
        if use.released:
            continue
        active[use.code] += 1
        order = repo.get_order(use.order_id)
        if order is None or order["status"] == "cancelled":
            out.append(Violation("discount-released", use.code, f"held by {use.order_id}"))
    for code, count in active.items():
        if count > limits.get(code, 0):
            out.append(Violation("discount<=limit", code, f"{count} uses > {limits.get(code)}"))
    return out


def _check_gift_cards(users: dict[str, Doc], ledger: dict[tuple[str, str], int]) -> list[Violation]:
    out: list[Violation] = []
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for user in users.values():
        for method in user["payment_methods"].values():
            if method["source"] != "gift_card":
                continue
            key = (user["user_id"], method["id"])
            balance = to_cents(method["balance"])
            seen[key] = balance
            if balance < 0:
                out.append(Violation("gift-card>=0", method["id"], f"balance {balance}c"))
            if ledger.get(key) != balance:
                out.append(
                    Violation(
                        "gift-card=ledger",
                        method["id"],
                        f"balance {balance}c, ledger sum {ledger.get(key)}c",
                    )
                )
    for key in ledger.keys() - seen.keys():
        out.append(Violation("gift-card=ledger", key[1], "ledger entries for an unknown card"))
    return out
