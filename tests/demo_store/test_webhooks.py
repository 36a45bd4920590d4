"""Outgoing webhooks over real HTTP to a real loopback receiver that checks the signature:
payload shapes per topic, retries with the same webhook id, giving up, abandoned checkouts
(once, never for a completed one), a customer's events in order, delivery after a restart."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from supportflow.demo_store.webhooks.signing import sign
from tests.demo_store.sales_helpers import (
    SEED,
    Doc,
    available_items,
    complete,
    create_checkout,
    create_code,
    deliveries,
    fast_webhooks,
    key,
    method_of,
    order_path,
    running_store,
    users_paying_with,
)
from tests.demo_store.webhook_receiver import (
    SECRET,
    WebhookReceiver,
    dead_url,
    shopify_hmac,
    verifies,
    wait_until,
)

USERS = users_paying_with("credit_card")
HEADERS = {
    "x-shopify-topic",
    "x-shopify-hmac-sha256",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-shop-domain",
    "x-shopify-triggered-at",
    "x-shopify-api-version",
}


def _buy(http: httpx.Client, user_id: str, **extra: object) -> tuple[Doc, Doc]:
    (item,) = available_items(1)
    checkout = create_checkout(http, user_id, {item["item_id"]: 2}, **extra)
    r = complete(http, checkout["id"], method_of(user_id, "credit_card"))
    assert r.status_code == 200, r.text
    return checkout, r.json()


def test_signed_as_shopify_signs_and_tampering_shows(tmp_path: Path) -> None:
    with (
        WebhookReceiver() as receiver,
        running_store(tmp_path / "s.db", webhooks=fast_webhooks(receiver.url)) as (_s, http),
    ):
        (item,) = available_items(1)
        create_checkout(http, USERS[0], {item["item_id"]: 1})
        wait_until(lambda: len(receiver.received) == 1)
    (got,) = receiver.received
    assert set(got.headers) >= HEADERS
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-shopify-shop-domain"] == "demo-store.local"
    assert got.topic == "checkouts/create"
    # The signature is over the raw bytes received, with the shared secret.
    assert verifies(SECRET, got.body, got.headers["x-shopify-hmac-sha256"])
    assert sign(SECRET, got.body) == shopify_hmac(SECRET, got.body)
    tampered = got.body.replace(b'"quantity":1', b'"quantity":9')
    assert tampered != got.body
    assert not verifies(SECRET, tampered, got.headers["x-shopify-hmac-sha256"])
    assert not verifies("another-secret", got.body, got.headers["x-shopify-hmac-sha256"])


def test_each_topic_carries_its_payload(tmp_path: Path) -> None:
    user_id = USERS[1]
    user = SEED["users"][user_id]
    with (
        WebhookReceiver() as receiver,
        running_store(tmp_path / "s.db", webhooks=fast_webhooks(receiver.url)) as (_s, http),
    ):
        phone = http.get(f"/users/{user_id}").json()["phone"]
        code = create_code(http, kind="percentage", value=10).json()["code"]
        checkout, order = _buy(
            http, user_id, discount_code=code, accepts_email_marketing=True, email="b@example.com"
        )
        oid = order_path(order["order_id"])
        assert http.post(oid + "/deliver", headers={"Idempotency-Key": key()}).status_code == 200
        # A seed order, cancelled: orders/cancelled with the account's contact.
        seed_order = next(
            o
            for o in SEED["orders"].values()
            if o["status"] == "pending" and o["user_id"] != user_id
        )
        r = http.post(
            order_path(seed_order["order_id"]) + "/cancel",
            json={"reason": "no longer needed"},
            headers={"Idempotency-Key": key()},
        )
        assert r.status_code == 200
        wait_until(lambda: len(receiver.received) == 4)
    assert all(r.signed for r in receiver.received)
    by_topic = {r.topic: r.payload for r in receiver.received}
    assert set(by_topic) == {
        "checkouts/create",
        "orders/create",
        "fulfillments/update",
        "orders/cancelled",
    }
    line = {
        "variant_id": checkout["line_items"][0]["item_id"],
        "product_id": checkout["line_items"][0]["product_id"],
        "title": checkout["line_items"][0]["title"],
        "quantity": 2,
        "price": f"{checkout['line_items'][0]['price']:.2f}",
    }
    customer = {"id": user_id, "email": user["email"], "phone": phone}
    discount = order["discount_codes"][0]
    codes = [{"code": code, "amount": f"{discount['amount']:.2f}", "type": "percentage"}]
    assert by_topic["checkouts/create"] == {
        "id": checkout["id"],
        "token": checkout["token"],
        "email": "b@example.com",
        "phone": phone,
        "customer": customer,
        "buyer_accepts_marketing": True,
        "buyer_accepts_sms_marketing": False,
        "line_items": [line],
        "total_price": f"{checkout['total_price']:.2f}",
        "currency": "USD",
        "created_at": checkout["created_at"],
        "updated_at": checkout["updated_at"],
        "completed_at": None,
        "abandoned_checkout_url": checkout["abandoned_checkout_url"],
        "discount_codes": codes,
    }
    assert by_topic["orders/create"] == {
        "id": order["order_id"],
        "name": order["order_id"],
        "email": "b@example.com",
        "phone": phone,
        "customer": customer,
        "checkout_id": checkout["id"],
        "checkout_token": checkout["token"],
        "total_price": f"{order['payment_history'][0]['amount']:.2f}",
        "currency": "USD",
        "line_items": [line],
        "discount_codes": codes,
        "financial_status": "paid",
        "created_at": order["created_at"],
        "buyer_accepts_marketing": True,
        "buyer_accepts_sms_marketing": False,
    }
    fulfilment = by_topic["fulfillments/update"]
    assert fulfilment["id"] == f"{order['order_id']}.1"
    assert fulfilment["order_id"] == order["order_id"]
    assert (fulfilment["status"], fulfilment["shipment_status"]) == ("success", "delivered")
    assert len(fulfilment["tracking_number"]) == 12
    assert fulfilment["email"] == "b@example.com"
    assert fulfilment["customer"] == {"id": user_id}
    cancelled = by_topic["orders/cancelled"]
    assert cancelled["id"] == seed_order["order_id"]
    assert cancelled["cancel_reason"] == "no longer needed"
    assert cancelled["cancelled_at"]
    assert cancelled["email"] == SEED["users"][seed_order["user_id"]]["email"]
    assert cancelled["checkout_id"] is None


def test_500_twice_then_200_is_three_attempts_of_one_webhook_in_order(tmp_path: Path) -> None:
    with (
        WebhookReceiver() as receiver,
        running_store(tmp_path / "s.db", webhooks=fast_webhooks(receiver.url)) as (_s, http),
    ):
        receiver.script = [500, 500]
        _buy(http, USERS[2])
        wait_until(lambda: [r.status for r in receiver.received] == [500, 500, 200, 200])
        rows = deliveries(http)
    received = receiver.received
    # The customer's order event waited for their checkout event, retried in between.
    assert [r.topic for r in received] == ["checkouts/create"] * 3 + ["orders/create"]
    assert len({r.webhook_id for r in received[:3]}) == 1
    assert len({r.headers["x-shopify-event-id"] for r in received[:3]}) == 1
    assert len({r.body for r in received[:3]}) == 1
    assert received[3].webhook_id != received[0].webhook_id
    assert [(r["topic"], r["status"], r["attempts"]) for r in rows] == [
        ("checkouts/create", "delivered", 3),
        ("orders/create", "delivered", 1),
    ]
    assert rows[0]["last_status_code"] == 200


def test_a_receiver_that_is_down_is_retried_then_given_up(tmp_path: Path) -> None:
    hooks = fast_webhooks(dead_url(), max_attempts=3)
    with running_store(tmp_path / "s.db", webhooks=hooks) as (_s, http):
        (item,) = available_items(1)
        create_checkout(http, USERS[3], {item["item_id"]: 1})
        wait_until(lambda: deliveries(http)[0]["status"] == "failed")
        (row,) = deliveries(http)
        time.sleep(0.5)  # given up stays given up
        assert deliveries(http) == [row]
    assert row["attempts"] == 3
    assert row["last_status_code"] is None
    assert row["last_error"] == "ConnectError"


def test_undelivered_webhooks_are_delivered_after_a_restart(tmp_path: Path) -> None:
    db_path = tmp_path / "s.db"
    slow = fast_webhooks(dead_url(), backoff_initial_s=0.5, backoff_max_s=0.5)
    with running_store(db_path, webhooks=slow) as (_s, http):
        (item,) = available_items(1)
        create_checkout(http, USERS[4], {item["item_id"]: 1})
        wait_until(lambda: deliveries(http)[0]["attempts"] >= 1)
        (first,) = deliveries(http)
    assert first["status"] == "pending"
    with (
        WebhookReceiver() as receiver,
        running_store(db_path, webhooks=fast_webhooks(receiver.url)) as (_s, http),
    ):
        wait_until(lambda: len(receiver.received) == 1)
        wait_until(lambda: deliveries(http)[0]["status"] == "delivered")
        (row,) = deliveries(http)
    assert receiver.received[0].webhook_id == first["webhook_id"]
    assert receiver.received[0].signed
    assert row["attempts"] > first["attempts"]


def test_abandoned_checkout_reported_once_and_never_for_a_completed_one(tmp_path: Path) -> None:
    with (
        WebhookReceiver() as receiver,
        running_store(
            tmp_path / "s.db", webhooks=fast_webhooks(receiver.url), abandon_after=0.5
        ) as (_s, http),
    ):
        (item,) = available_items(1)
        left = create_checkout(http, USERS[6], {item["item_id"]: 1}, accepts_sms_marketing=True)
        bought, _order = _buy(http, USERS[7])
        wait_until(lambda: "checkouts/abandoned" in receiver.topics())
        time.sleep(1.0)  # two more abandon_after spans: still one report
        abandoned = [r for r in receiver.received if r.topic == "checkouts/abandoned"]
        assert http.get(f"/checkouts/{left['id']}").json()["abandoned_at"] is not None
        assert http.get(f"/checkouts/{bought['id']}").json()["abandoned_at"] is None
    (report,) = abandoned
    assert report.signed
    assert report.payload["id"] == left["id"]
    created = next(r for r in receiver.received if r.topic == "checkouts/create")
    assert report.payload == created.payload  # the checkout's own payload
    assert report.payload["buyer_accepts_sms_marketing"] is True


def test_no_webhooks_configured_means_an_empty_outbox(tmp_path: Path) -> None:
    with running_store(tmp_path / "s.db", webhooks=None, abandon_after=0.1) as (_s, http):
        _buy(http, USERS[8])
        time.sleep(0.3)
        assert deliveries(http) == []
