"""Idempotency-Key: a retried write has one effect and gets the first answer back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.errors import StoreRejected, StoreUnavailable
from tests.demo_store.conftest import OrderPicker, ThreadedStore, paid_by


def pending_gift_card(order: dict[str, Any], user: dict[str, Any]) -> bool:
    return order["status"] == "pending" and paid_by(order, user, "gift_card")


async def events_for(admin: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    r = await admin.get("/admin/events", params={"entity_id": order_id})
    r.raise_for_status()
    events: list[dict[str, Any]] = r.json()["events"]
    return events


async def balance(client: StoreClient, user_id: str, card_id: str) -> float:
    user = await client.get_user(user_id)
    assert user is not None
    return float(user["payment_methods"][card_id]["balance"])


async def test_same_key_twice_one_effect_same_answer(
    store: ThreadedStore, admin: httpx.AsyncClient, orders: OrderPicker
) -> None:
    order = orders.take(pending_gift_card)
    path = f"/orders/{order['order_id'].replace('#', '%23')}/cancel"
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = await admin.post(path, json={"reason": "no longer needed"}, headers=headers)
    second = await admin.post(path, json={"reason": "no longer needed"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len((await admin.get(f"/orders/{path.split('/')[2]}")).json()["payment_history"]) == 2
    assert [e["operation"] for e in await events_for(admin, order["order_id"])] == ["cancel"]


async def test_same_key_other_request_is_refused(client: StoreClient, orders: OrderPicker) -> None:
    order = orders.with_status("pending")
    k = uuid.uuid4().hex
    await client.cancel_order(order["order_id"], "no longer needed", k)
    with pytest.raises(StoreRejected) as err:
        await client.cancel_order(order["order_id"], "ordered by mistake", k)
    assert err.value.status_code == 422
    with pytest.raises(StoreRejected) as err:
        await client.hold_order(order["order_id"], k)
    assert err.value.status_code == 422


async def test_a_rejection_is_replayed_too(client: StoreClient, orders: OrderPicker) -> None:
    order = orders.with_status("delivered")
    k = uuid.uuid4().hex
    for _ in range(2):
        with pytest.raises(StoreRejected) as err:
            await client.cancel_order(order["order_id"], "no longer needed", k)
        assert err.value.status_code == 409


async def test_retry_after_fail_after_applies_once(
    client: StoreClient, admin: httpx.AsyncClient, orders: OrderPicker
) -> None:
    order = orders.take(pending_gift_card)
    oid, paid = order["order_id"], order["payment_history"][0]
    card = paid["payment_method_id"]
    before = await balance(client, order["user_id"], card)
    fault = {"operations": {"cancel": {"mode": "fail_after", "times": 1}}}
    (await admin.post("/admin/faults", json=fault)).raise_for_status()

    k = uuid.uuid4().hex
    with pytest.raises(StoreUnavailable):
        await client.cancel_order(oid, "no longer needed", k)
    applied = await client.get_order(oid)
    assert applied is not None and applied["status"] == "cancelled"  # committed before the 503

    result = await client.cancel_order(oid, "no longer needed", k)
    assert result == applied
    assert await balance(client, order["user_id"], card) == round(before + paid["amount"], 2)
    assert len(await events_for(admin, oid)) == 1


async def test_retry_after_fail_before_applies_on_the_retry(
    client: StoreClient, admin: httpx.AsyncClient, orders: OrderPicker
) -> None:
    order = orders.with_status("pending")
    fault = {"operations": {"hold": {"mode": "fail_before", "times": 1}}}
    (await admin.post("/admin/faults", json=fault)).raise_for_status()
    k = uuid.uuid4().hex
    with pytest.raises(StoreUnavailable):
        await client.hold_order(order["order_id"], k)
    assert (await client.get_hold(order["order_id"]))["held"] is False
    await client.hold_order(order["order_id"], k)
    assert (await client.get_hold(order["order_id"]))["held"] is True
    await client.release_order(order["order_id"], uuid.uuid4().hex)


async def test_retry_after_a_timeout_once_committed(
    store: ThreadedStore, admin: httpx.AsyncClient, orders: OrderPicker
) -> None:
    order = orders.with_status("pending")
    fault = {
        "timeout_seconds": 30,
        "operations": {"modify_address": {"mode": "timeout_after", "times": 1}},
    }
    (await admin.post("/admin/faults", json=fault)).raise_for_status()
    address = {**order["address"], "address1": "2 Retry Road"}
    k = uuid.uuid4().hex
    async with StoreClient(store.url, timeout=0.5) as impatient:
        with pytest.raises(StoreUnavailable, match="timed out"):
            await impatient.modify_order_address(order["order_id"], address, k)
        again = await impatient.modify_order_address(order["order_id"], address, k)
    assert again["address"]["address1"] == "2 Retry Road"
    assert len(await events_for(admin, order["order_id"])) == 1


async def test_concurrent_duplicates_apply_once(
    client: StoreClient, admin: httpx.AsyncClient, orders: OrderPicker
) -> None:
    order = orders.take(pending_gift_card)
    k = uuid.uuid4().hex
    results = await asyncio.gather(
        *(client.cancel_order(order["order_id"], "no longer needed", k) for _ in range(8))
    )
    assert all(r == results[0] for r in results)
    assert len(await events_for(admin, order["order_id"])) == 1
