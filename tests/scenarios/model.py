"""The vocabulary of the scenario suite: a scenario is data (who writes, what they say, what
the agent must answer) plus the store's expected final state, written as the changes the
conversation must make to the store's records and nothing else."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]


@dataclass
class State:
    """The store's records a scenario may touch, read over HTTP in the seed's JSON shape."""

    user: Doc
    orders: dict[str, Doc]
    # Catalogue entries of the products in those orders (for variant swaps).
    products: dict[str, Doc] = field(default_factory=dict)


Change = Callable[[State], None]
# (before, after) -> raises AssertionError when the final state is wrong.
Check = Callable[[State, State], None]
# What the customer writes, and substrings the reply must contain (None: not checked).
Turn = tuple[str, tuple[str, ...] | None]
# Written in place of a turn's text: the customer types the sign-in code the agent just
# mailed to the scenario's email (read from the test SMTP server's Maildir).
CODE = "<the 6-digit code from the email>"


@dataclass(frozen=True)
class Scenario:
    name: str
    # The procedure the scenario is about (for the coverage count), e.g. "cancel".
    procedure: str
    email: str
    turns: tuple[Turn, ...]
    # Every order the conversation mentions; no other scenario may mention them.
    orders: tuple[str, ...]
    check: Check
    # True: every message is the verified customer's (a signed identity token, as a store's
    # logged-in shopper's widget sends). False: an anonymous visitor, who proves who they are
    # with a one-time code mailed to the email they type (a `say_code` turn).
    token: bool = True
    # A product bug the scenario reveals (the test is then a strict xfail).
    xfail: str | None = None


def say(text: str, *expected: str) -> Turn:
    return (text, expected or None)


def say_code(*expected: str) -> Turn:
    """The customer types the one-time code mailed to the scenario's email."""
    return (CODE, expected or None)


def expect(*changes: Change) -> Check:
    """The final state is the state before with exactly these changes, nothing else."""

    def check(before: State, after: State) -> None:
        wanted = State(copy.deepcopy(before.user), copy.deepcopy(before.orders), before.products)
        for change in changes:
            change(wanted)
        for order_id, doc in wanted.orders.items():
            assert after.orders[order_id] == doc, _diff(
                f"order {order_id}", doc, after.orders[order_id]
            )
        assert after.user == wanted.user, _diff("user", wanted.user, after.user)

    return check


def _diff(what: str, wanted: Doc, got: Doc) -> str:
    keys = sorted(set(wanted) | set(got))
    lines = [
        f"  {k}: wanted {json.dumps(wanted.get(k))} got {json.dumps(got.get(k))}"
        for k in keys
        if wanted.get(k) != got.get(k)
    ]
    return f"{what} differs:\n" + "\n".join(lines)


# -- changes --------------------------------------------------------------------------------


def _amount(x: float) -> float:
    return round(x + 0.0, 2)


def cancelled(order_id: str, reason: str, refund_to: str, amount: float) -> Change:
    def change(s: State) -> None:
        o = s.orders[order_id]
        assert o["status"] == "pending", f"{order_id} must start pending"
        o["status"] = "cancelled"
        o["cancel_reason"] = reason
        o["payment_history"].append(
            {"transaction_type": "refund", "amount": amount, "payment_method_id": refund_to}
        )

    return change


def gift_card(method_id: str, delta: float) -> Change:
    """The user's gift card balance moves by ``delta`` (credited or spent at once)."""

    def change(s: State) -> None:
        m = s.user["payment_methods"][method_id]
        assert m["source"] == "gift_card"
        m["balance"] = _amount(m["balance"] + delta)

    return change


def _address(line1: str, line2: str, city: str, state: str, zip_code: str) -> Doc:
    return {
        "address1": line1,
        "address2": line2,
        "city": city,
        "state": state,
        "country": "USA",
        "zip": zip_code,
    }


def ships_to(order_id: str, *parts: str) -> Change:
    def change(s: State) -> None:
        s.orders[order_id]["address"] = _address(*parts)

    return change


def user_address(*parts: str) -> Change:
    def change(s: State) -> None:
        s.user["address"] = _address(*parts)

    return change


def repaid(order_id: str, new: str, old: str, amount: float) -> Change:
    """The payment method changed: charged to ``new``, refunded to ``old``."""

    def change(s: State) -> None:
        s.orders[order_id]["payment_history"] += [
            {"transaction_type": "payment", "amount": amount, "payment_method_id": new},
            {"transaction_type": "refund", "amount": amount, "payment_method_id": old},
        ]

    return change


def items_changed(
    order_id: str, old: str, new: str, settle: tuple[str, float, str] | None
) -> Change:
    """Item ``old`` became variant ``new`` (once only); ``settle``: (payment|refund, amount,
    method) for the price difference."""

    def change(s: State) -> None:
        o = s.orders[order_id]
        assert o["status"] == "pending"
        _swap(s, o, old, new)
        o["status"] = "pending (item modified)"
        if settle is not None:
            kind, amount, method = settle
            o["payment_history"].append(
                {"transaction_type": kind, "amount": amount, "payment_method_id": method}
            )

    return change


def _swap(s: State, order: Doc, old: str, new: str) -> None:
    item = next(i for i in order["items"] if i["item_id"] == old)
    variant = s.products[item["product_id"]]["variants"][new]
    assert variant["available"], f"{new} is not available"
    item["item_id"] = variant["item_id"]
    item["price"] = variant["price"]
    item["options"] = dict(variant["options"])


def return_requested(order_id: str, items: list[str], refund_to: str) -> Change:
    def change(s: State) -> None:
        o = s.orders[order_id]
        assert o["status"] == "delivered"
        o["status"] = "return requested"
        o["return_items"] = sorted(items)
        o["return_payment_method_id"] = refund_to

    return change


def exchange_requested(
    order_id: str, old: list[str], new: list[str], method: str, difference: float
) -> Change:
    def change(s: State) -> None:
        o = s.orders[order_id]
        assert o["status"] == "delivered"
        o["status"] = "exchange requested"
        o["exchange_items"] = sorted(old)
        o["exchange_new_items"] = sorted(new)
        o["exchange_payment_method_id"] = method
        o["exchange_price_difference"] = difference

    return change
