"""Checkouts over real HTTP: create, read, complete into an order in the seed's shape; bad
input refused with nothing changed; completing is idempotent; invariants hold."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.demo_store.sales_helpers import (
    SEED,
    Doc,
    available_items,
    complete,
    create_checkout,
    fast_webhooks,
    gift_card_users,
    key,
    method_of,
    order_path,
    running_store,
    unavailable_item,
    users_paying_with,
    violations,
)
from tests.demo_store.webhook_receiver import WebhookReceiver

CARD_USERS = users_paying_with("credit_card")
GIFT_USERS = gift_card_users(60)


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with (
        WebhookReceiver() as receiver,
        running_store(
            tmp_path_factory.mktemp("checkouts") / "store.db",
            webhooks=fast_webhooks(receiver.url),
        ) as (_store, client),
    ):
        yield client


def test_checkout_then_complete_places_an_order_in_the_seed_shape(http: httpx.Client) -> None:
    user_id = CARD_USERS[0]
    user = SEED["users"][user_id]
    a, b = available_items(2)
    checkout = create_checkout(http, user_id, {a["item_id"]: 2, b["item_id"]: 1})
    assert checkout["customer_id"] == user_id
    assert checkout["email"] == user["email"]
    assert checkout["phone"] == http.get(f"/users/{user_id}").json()["phone"]
    assert [(li["item_id"], li["quantity"]) for li in checkout["line_items"]] == [
        (a["item_id"], 2),
        (b["item_id"], 1),
    ]
    line = checkout["line_items"][0]
    assert line["product_id"] == a["product_id"]
    assert line["title"] == SEED["products"][a["product_id"]]["name"]
    assert line["price"] == a["price"]
    total = round(2 * a["price"] + b["price"], 2)
    assert checkout["total_price"] == total
    assert checkout["completed_order_id"] is None
    assert checkout["abandoned_checkout_url"].startswith("https://demo-store.local/checkouts/")
    assert http.get(f"/checkouts/{checkout['id']}").json() == checkout

    method = method_of(user_id, "credit_card")
    r = complete(http, checkout["id"], method)
    assert r.status_code == 200, r.text
    order = r.json()
    assert re.fullmatch(r"#W\d{7}", order["order_id"])
    seed_order = next(iter(SEED["orders"].values()))
    assert list(order)[: len(seed_order)] == list(seed_order)  # the seed's keys, in its order
    assert order["status"] == "pending"
    assert order["user_id"] == user_id
    assert order["address"] == user["address"]
    assert order["fulfillments"] == []
    assert [i["item_id"] for i in order["items"]] == [a["item_id"], a["item_id"], b["item_id"]]
    assert set(order["items"][0]) == {"name", "product_id", "item_id", "price", "options"}
    assert order["payment_history"] == [
        {"transaction_type": "payment", "amount": total, "payment_method_id": method}
    ]
    assert order["checkout_id"] == checkout["id"]
    assert order["discount_codes"] == []
    assert http.get(order_path(order["order_id"])).json() == order
    assert order["order_id"] in http.get(f"/users/{user_id}").json()["orders"]
    done = http.get(f"/checkouts/{checkout['id']}").json()
    assert done["completed_order_id"] == order["order_id"]
    assert done["completed_at"] is not None
    assert violations(http) == []


def test_contact_and_consent_are_kept(http: httpx.Client) -> None:
    (item,) = available_items(1)
    checkout = create_checkout(
        http,
        CARD_USERS[1],
        {item["item_id"]: 1},
        email="other@example.com",
        phone="(201) 555-0199",
        accepts_email_marketing=True,
        accepts_sms_marketing=True,
    )
    assert checkout["email"] == "other@example.com"
    assert checkout["phone"] == "+12015550199"
    assert checkout["accepts_email_marketing"] is True
    assert checkout["accepts_sms_marketing"] is True


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"user_id": "nobody_1234"}, 422, "user nobody_1234 not found"),
        ({"items": [{"item_id": "0000000000", "quantity": 1}]}, 422, "does not exist"),
        ({"items": [{"item_id": unavailable_item(), "quantity": 1}]}, 422, "is not available"),
        ({"phone": "12345"}, 422, "not a valid phone number"),
        ({"discount_code": "NOPE-123"}, 422, "unknown code"),
        ({"items": []}, 422, None),
        ({"items": [{"item_id": "1", "quantity": 0}]}, 422, None),
        ({"email": "not-an-email"}, 422, None),
        ({"surprise": True}, 422, None),
    ],
)
def test_bad_checkouts_are_refused_and_create_nothing(
    http: httpx.Client, change: Doc, status: int, detail: str | None
) -> None:
    (item,) = available_items(1)
    body = {"user_id": CARD_USERS[2], "items": [{"item_id": item["item_id"], "quantity": 1}]}
    before = http.get("/admin/events", params={"limit": 1000}).json()["events"]
    r = http.post("/checkouts", json={**body, **change}, headers={"Idempotency-Key": key()})
    assert r.status_code == status, r.text
    if detail is not None:
        assert detail in r.json()["detail"]
    assert http.get("/admin/events", params={"limit": 1000}).json()["events"] == before


def test_unknown_checkout_is_404(http: httpx.Client) -> None:
    assert http.get("/checkouts/ck_missing").status_code == 404
    r = complete(http, "ck_missing", "credit_card_1")
    assert r.status_code == 404


def test_completing_twice_same_key_same_order_other_key_409(http: httpx.Client) -> None:
    user_id = CARD_USERS[3]
    (item,) = available_items(1)
    checkout = create_checkout(http, user_id, {item["item_id"]: 1})
    method = method_of(user_id, "credit_card")
    k = key()
    first = complete(http, checkout["id"], method, k=k)
    again = complete(http, checkout["id"], method, k=k)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    other = complete(http, checkout["id"], method)
    assert other.status_code == 409
    assert first.json()["order_id"] in other.json()["detail"]
    placed = http.get(f"/users/{user_id}").json()["orders"]
    assert placed.count(first.json()["order_id"]) == 1
    assert len(placed) == len(SEED["users"][user_id]["orders"]) + 1


def test_a_strangers_payment_method_is_refused(http: httpx.Client) -> None:
    (item,) = available_items(1)
    checkout = create_checkout(http, CARD_USERS[4], {item["item_id"]: 1})
    stranger = method_of(CARD_USERS[5], "credit_card")
    r = complete(http, checkout["id"], stranger)
    assert r.status_code == 409
    assert http.get(f"/checkouts/{checkout['id']}").json()["completed_order_id"] is None


def _balance(http: httpx.Client, user_id: str, method: str) -> float:
    return float(http.get(f"/users/{user_id}").json()["payment_methods"][method]["balance"])


def test_gift_card_is_charged_and_a_short_one_refused(http: httpx.Client) -> None:
    user_id = GIFT_USERS[0]
    card = method_of(user_id, "gift_card")
    balance = _balance(http, user_id, card)
    cheap = min(
        (v for p in SEED["products"].values() for v in p["variants"].values() if v["available"]),
        key=lambda v: v["price"],
    )
    assert cheap["price"] < balance
    checkout = create_checkout(http, user_id, {cheap["item_id"]: 1})
    assert complete(http, checkout["id"], card).status_code == 200
    after = _balance(http, user_id, card)
    assert round(balance - cheap["price"], 2) == after

    dear = max(
        (v for p in SEED["products"].values() for v in p["variants"].values() if v["available"]),
        key=lambda v: v["price"],
    )
    quantity = int(after // dear["price"]) + 1
    checkout = create_checkout(http, user_id, {dear["item_id"]: quantity})
    r = complete(http, checkout["id"], card)
    assert r.status_code == 409
    assert "insufficient balance" in r.json()["detail"]
    assert _balance(http, user_id, card) == after
    assert http.get(f"/checkouts/{checkout['id']}").json()["completed_order_id"] is None
    assert violations(http) == []


def test_a_placed_order_cancels_like_a_seed_order(http: httpx.Client) -> None:
    user_id = GIFT_USERS[1]
    card = method_of(user_id, "gift_card")
    before = _balance(http, user_id, card)
    (item,) = available_items(1, max_price=before)
    checkout = create_checkout(http, user_id, {item["item_id"]: 1})
    order = complete(http, checkout["id"], card).json()
    r = http.post(
        order_path(order["order_id"]) + "/cancel",
        json={"reason": "no longer needed"},
        headers={"Idempotency-Key": key()},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert _balance(http, user_id, card) == before
    assert violations(http) == []


def test_deliver_marks_delivered_with_tracking(http: httpx.Client) -> None:
    user_id = CARD_USERS[6]
    (item,) = available_items(1)
    checkout = create_checkout(http, user_id, {item["item_id"]: 1})
    order = complete(http, checkout["id"], method_of(user_id, "credit_card")).json()
    path = order_path(order["order_id"]) + "/deliver"
    r = http.post(path, headers={"Idempotency-Key": key()})
    assert r.status_code == 200, r.text
    delivered = r.json()
    assert delivered["status"] == "delivered"
    (fulfillment,) = delivered["fulfillments"]
    assert re.fullmatch(r"\d{12}", fulfillment["tracking_id"][0])
    assert fulfillment["item_ids"] == [item["item_id"]]
    again = http.post(path, headers={"Idempotency-Key": key()})
    assert again.status_code == 409
    assert http.post("/orders/W0000000/deliver").status_code == 404
    # A processed seed order keeps its own tracking number.
    processed = next(o for o in SEED["orders"].values() if o["status"] == "processed")
    r = http.post(order_path(processed["order_id"]) + "/deliver")
    assert r.status_code == 200
    assert r.json()["fulfillments"] == processed["fulfillments"]
    assert violations(http) == []


def test_an_older_store_database_gets_the_new_tables_in_place(tmp_path: Path) -> None:
    db_path = tmp_path / "store.db"
    with running_store(db_path, webhooks=None) as (_s, http):
        seed_user = http.get(f"/users/{CARD_USERS[0]}").json()
    # What a store from before checkouts had: none of the sales tables.
    with sqlite3.connect(db_path) as conn:
        for table in ("checkouts", "discount_codes", "discount_usages", "webhook_outbox"):
            conn.execute(f"DROP TABLE {table}")
    with running_store(db_path, webhooks=None) as (_s, http):
        assert http.get(f"/users/{CARD_USERS[0]}").json() == seed_user  # kept, not reseeded
        (item,) = available_items(1)
        checkout = create_checkout(http, CARD_USERS[0], {item["item_id"]: 1})
        r = complete(http, checkout["id"], method_of(CARD_USERS[0], "credit_card"))
        assert r.status_code == 200
        # No webhooks configured: nothing is put in the outbox.
        assert http.get("/admin/webhooks").json() == {"deliveries": []}
        assert violations(http) == []


def test_a_lost_answer_to_complete_is_retried_with_its_key_to_one_order(
    http: httpx.Client,
) -> None:
    user_id = CARD_USERS[7]
    (item,) = available_items(1)
    checkout = create_checkout(http, user_id, {item["item_id"]: 1})
    faults = {"operations": {"complete_checkout": {"mode": "fail_after", "times": 1}}}
    http.post("/admin/faults", json=faults).raise_for_status()
    try:
        k = key()
        lost = complete(http, checkout["id"], method_of(user_id, "credit_card"), k=k)
        assert lost.status_code == 503  # committed, answer thrown away
        retried = complete(http, checkout["id"], method_of(user_id, "credit_card"), k=k)
    finally:
        http.delete("/admin/faults").raise_for_status()
    assert retried.status_code == 200
    assert retried.headers["Idempotent-Replayed"] == "true"
    orders = http.get(f"/users/{user_id}").json()["orders"]
    assert orders[-1] == retried.json()["order_id"]
    assert len(orders) == len(SEED["users"][user_id]["orders"]) + 1
    assert http.get("/health").status_code == 200
