"""Discount codes over real HTTP: creation rules and idempotency, each kind applied to an
order, and every way a code is refused (expired, used up, another customer's, offered about a
cancelled order), with nothing changed; a cancelled order gives its code's use back."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.demo_store.sales_helpers import (
    Doc,
    available_items,
    complete,
    create_checkout,
    create_code,
    key,
    method_of,
    order_path,
    running_store,
    users_paying_with,
    violations,
)

USERS = users_paying_with("credit_card")


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with running_store(tmp_path_factory.mktemp("discounts") / "store.db", webhooks=None) as (
        _store,
        client,
    ):
        yield client


class Shopper:
    """One seed customer per test, buying one available item with their card."""

    def __init__(self, http: httpx.Client, index: int) -> None:
        self.http = http
        self.user_id = USERS[index]
        self.method = method_of(self.user_id, "credit_card")
        (self.item,) = available_items(1)

    def checkout(self, **extra: object) -> Doc:
        return create_checkout(self.http, self.user_id, {self.item["item_id"]: 2}, **extra)

    def buy(self, code: str | None = None) -> httpx.Response:
        extra = {"discount_code": code} if code else {}
        return complete(self.http, self.checkout()["id"], self.method, **extra)

    @property
    def subtotal_cents(self) -> int:
        price: float = self.item["price"]
        return round(price * 100) * 2


def _code(r: httpx.Response) -> str:
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def _cancel(http: httpx.Client, order_id: str) -> None:
    r = http.post(
        order_path(order_id) + "/cancel",
        json={"reason": "ordered by mistake"},
        headers={"Idempotency-Key": key()},
    )
    assert r.status_code == 200, r.text


def test_created_code_is_readable_and_readable_back(http: httpx.Client) -> None:
    r = create_code(http, kind="percentage", value=10)
    assert r.status_code == 201
    doc = r.json()
    assert re.fullmatch(r"SAVE-[A-Z2-9]{6}", doc["code"])
    assert doc | {"created_at": None} == {
        "code": doc["code"],
        "kind": "percentage",
        "value": 10,
        "expires_at": "2999-01-01T00:00:00+00:00",
        "usage_limit": 1,
        "customer_id": None,
        "order_id": None,
        "usage_count": 0,
        "used_by_orders": [],
        "expired": False,
        "created_at": None,
    }
    assert http.get(f"/discount_codes/{doc['code'].lower()}").json() == doc
    assert http.get("/discount_codes/NOPE-NOPE").status_code == 404


def test_same_key_same_code_other_key_other_code(http: httpx.Client) -> None:
    k = key()
    first = create_code(http, k=k, kind="fixed_amount", value=5)
    again = create_code(http, k=k, kind="fixed_amount", value=5)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _code(create_code(http, kind="fixed_amount", value=5)) != first.json()["code"]
    assert create_code(http, k=k, kind="fixed_amount", value=6).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "percentage", "value": 0},
        {"kind": "percentage", "value": 101},
        {"kind": "fixed_amount", "value": 0},
        {"kind": "bogo", "value": 1},
        {"kind": "percentage", "value": 10, "usage_limit": 0},
        {"kind": "percentage", "value": 10, "expires_at": "2001-01-01T00:00:00Z"},
        {"kind": "percentage", "value": 10, "customer_id": "nobody_0000"},
        {"kind": "percentage", "value": 10, "order_id": "#W0000000"},
        {"kind": "percentage", "value": 10, "code": "no spaces allowed"},
    ],
)
def test_bad_codes_are_refused(http: httpx.Client, body: Doc) -> None:
    r = create_code(http, **body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_a_given_code_must_be_new(http: httpx.Client) -> None:
    assert _code(create_code(http, kind="free_shipping", code="Welcome-10")) == "WELCOME-10"
    r = create_code(http, kind="free_shipping", code="welcome-10")
    assert r.status_code == 409


@pytest.mark.parametrize(
    ("kind", "value", "off"),
    [
        ("percentage", 10, lambda cents: (cents * 10 + 50) // 100),
        ("fixed_amount", 5, lambda cents: 500),
        ("fixed_amount", 1_000_000, lambda cents: cents),  # never below zero
        ("free_shipping", 0, lambda cents: 0),
    ],
)
def test_each_kind_comes_off_the_order(
    http: httpx.Client, kind: str, value: float, off: Callable[[int], int]
) -> None:
    shopper = Shopper(http, {"percentage": 0, "fixed_amount": 1, "free_shipping": 2}[kind])
    code = _code(create_code(http, kind=kind, value=value))
    r = shopper.buy(code)
    assert r.status_code == 200, r.text
    order = r.json()
    discount = off(shopper.subtotal_cents)
    paid = shopper.subtotal_cents - discount
    assert order["payment_history"][0]["amount"] == paid / 100
    assert order["discount_codes"] == [{"code": code, "amount": discount / 100, "type": kind}]
    status = http.get(f"/discount_codes/{code}").json()
    assert status["usage_count"] == 1
    assert status["used_by_orders"] == [order["order_id"]]
    assert violations(http) == []


def test_code_given_at_checkout_prices_it_and_is_used_on_completion(http: httpx.Client) -> None:
    shopper = Shopper(http, 3)
    code = _code(create_code(http, kind="percentage", value=50))
    checkout = shopper.checkout(discount_code=code)
    half = shopper.subtotal_cents // 2
    assert checkout["total_price"] == (shopper.subtotal_cents - half) / 100
    assert checkout["discount_codes"] == [
        {"code": code, "amount": half / 100, "type": "percentage"}
    ]
    order = complete(http, checkout["id"], shopper.method).json()
    assert order["discount_codes"][0]["code"] == code


def _refused_changes_nothing(http: httpx.Client, shopper: Shopper, code: str, why: str) -> None:
    checkout = shopper.checkout()
    orders_before = http.get(f"/users/{shopper.user_id}").json()["orders"]
    r = complete(http, checkout["id"], shopper.method, discount_code=code)
    assert r.status_code == 422, r.text
    assert why in r.json()["detail"]
    assert code not in r.json()["detail"]  # codes stay out of error texts (and so of logs)
    assert http.get(f"/checkouts/{checkout['id']}").json() == checkout
    assert http.get(f"/users/{shopper.user_id}").json()["orders"] == orders_before


def test_unknown_code_is_refused(http: httpx.Client) -> None:
    _refused_changes_nothing(http, Shopper(http, 4), "NEVER-MADE", "unknown code")


def test_expired_code_is_refused(http: httpx.Client) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    code = _code(create_code(http, kind="percentage", value=10, expires_at=soon))
    time.sleep(1.2)
    assert http.get(f"/discount_codes/{code}").json()["expired"] is True
    _refused_changes_nothing(http, Shopper(http, 5), code, "expired")


def test_used_up_code_is_refused(http: httpx.Client) -> None:
    shopper = Shopper(http, 6)
    code = _code(create_code(http, kind="percentage", value=10, usage_limit=2))
    assert shopper.buy(code).status_code == 200
    assert shopper.buy(code).status_code == 200
    _refused_changes_nothing(http, shopper, code, "used up")
    assert http.get(f"/discount_codes/{code}").json()["usage_count"] == 2
    assert violations(http) == []


def test_another_customers_code_is_refused(http: httpx.Client) -> None:
    owner = Shopper(http, 7)
    code = _code(create_code(http, kind="percentage", value=10, customer_id=owner.user_id))
    _refused_changes_nothing(http, Shopper(http, 8), code, "another customer")
    assert owner.buy(code).status_code == 200


def test_cancelling_the_order_gives_the_use_back(http: httpx.Client) -> None:
    shopper = Shopper(http, 9)
    code = _code(create_code(http, kind="fixed_amount", value=3))
    order = shopper.buy(code).json()
    _refused_changes_nothing(http, shopper, code, "used up")
    _cancel(http, order["order_id"])
    assert http.get(f"/discount_codes/{code}").json()["usage_count"] == 0
    assert shopper.buy(code).status_code == 200
    assert violations(http) == []


def test_a_code_offered_about_an_order_dies_with_it(http: httpx.Client) -> None:
    shopper = Shopper(http, 10)
    order = shopper.buy().json()
    r = create_code(http, kind="percentage", value=15, order_id=order["order_id"])
    code = _code(r)
    assert r.json()["customer_id"] == shopper.user_id  # the order's customer's code
    _cancel(http, order["order_id"])
    _refused_changes_nothing(http, shopper, code, "is cancelled")
    again = create_code(http, kind="percentage", value=15, order_id=order["order_id"])
    assert again.status_code == 422
    assert "is cancelled" in again.json()["detail"]
