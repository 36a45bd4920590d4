"""Every write over real HTTP: the happy path and the rules that refuse it (tau2 retail)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from supportflow.demo_store.invariants import check
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.errors import StoreNotFound, StoreRejected
from tests.demo_store.conftest import Doc, OrderPicker, ThreadedStore, gift_cards, paid_by

NEW_ADDRESS = {
    "address1": "1 Test Way",
    "address2": "",
    "city": "Springfield",
    "country": "USA",
    "state": "IL",
    "zip": "62701",
}


def key() -> str:
    return uuid.uuid4().hex


def pending(order: Doc, _user: Doc) -> bool:
    return bool(order["status"] == "pending")


def delivered(order: Doc, _user: Doc) -> bool:
    return bool(order["status"] == "delivered")


def both(*preds: Callable[[Doc, Doc], bool]) -> Callable[[Doc, Doc], bool]:
    return lambda o, u: all(p(o, u) for p in preds)


def other_variant(seed: Doc, item: Doc, *, cheaper: bool | None = None) -> Doc | None:
    """An available variant of the item's product, other than the item itself."""
    for variant in seed["products"][item["product_id"]]["variants"].values():
        if variant["item_id"] == item["item_id"] or not variant["available"]:
            continue
        if cheaper is None or (variant["price"] < item["price"]) == cheaper:
            return variant  # type: ignore[no-any-return]
    return None


def foreign_product_item(seed: Doc, item: Doc) -> str:
    for product in seed["products"].values():
        if product["product_id"] != item["product_id"]:
            return next(iter(product["variants"]))  # type: ignore[no-any-return]
    raise AssertionError


async def test_cancel_pending_refunds_original_card(
    client: StoreClient, orders: OrderPicker
) -> None:
    order = orders.take(both(pending, lambda o, u: paid_by(o, u, "credit_card")))
    result = await client.cancel_order(order["order_id"], "no longer needed", key())
    paid = order["payment_history"][0]
    assert result["status"] == "cancelled"
    assert result["cancel_reason"] == "no longer needed"
    assert result["payment_history"] == [
        paid,
        {
            "transaction_type": "refund",
            "amount": paid["amount"],
            "payment_method_id": paid["payment_method_id"],
        },
    ]
    assert await client.get_order(order["order_id"]) == result


async def test_cancel_credits_a_gift_card_at_once(client: StoreClient, orders: OrderPicker) -> None:
    order = orders.take(both(pending, lambda o, u: paid_by(o, u, "gift_card")))
    card_id = order["payment_history"][0]["payment_method_id"]
    before = await client.get_user(order["user_id"])
    assert before is not None
    await client.cancel_order(order["order_id"], "ordered by mistake", key())
    after = await client.get_user(order["user_id"])
    assert after is not None
    expected = round(
        before["payment_methods"][card_id]["balance"] + order["payment_history"][0]["amount"], 2
    )
    assert after["payment_methods"][card_id]["balance"] == expected


async def test_cancel_refuses_non_pending_unknown_and_bad_reason(
    client: StoreClient, orders: OrderPicker
) -> None:
    order = orders.with_status("delivered")
    with pytest.raises(StoreRejected) as err:
        await client.cancel_order(order["order_id"], "no longer needed", key())
    assert err.value.status_code == 409
    assert "delivered" in err.value.detail
    assert await client.get_order(order["order_id"]) == order  # nothing changed
    with pytest.raises(StoreNotFound):
        await client.cancel_order("#W0000000", "no longer needed", key())
    with pytest.raises(StoreRejected) as err:
        await client.cancel_order(orders.with_status("pending")["order_id"], "too expensive", key())
    assert err.value.status_code == 422


async def test_modify_order_address(client: StoreClient, orders: OrderPicker) -> None:
    order = orders.with_status("pending")
    result = await client.modify_order_address(order["order_id"], NEW_ADDRESS, key())
    assert result["address"] == NEW_ADDRESS
    assert list(result["address"]) == list(order["address"])  # seed key order kept
    with pytest.raises(StoreRejected) as err:
        await client.modify_order_address(
            orders.with_status("delivered")["order_id"], NEW_ADDRESS, key()
        )
    assert err.value.status_code == 409
    with pytest.raises(StoreRejected) as err:
        await client.modify_order_address(
            order["order_id"], {k: v for k, v in NEW_ADDRESS.items() if k != "city"}, key()
        )
    assert err.value.status_code == 422


async def test_modify_user_address_moves_the_zip_lookup(client: StoreClient, seed: Doc) -> None:
    user_id = sorted(seed["users"])[-1]
    result = await client.modify_user_address(user_id, NEW_ADDRESS, key())
    assert result["address"] == NEW_ADDRESS
    name = seed["users"][user_id]["name"]
    found = await client.find_users(
        first_name=name["first_name"], last_name=name["last_name"], zip="62701"
    )
    assert [u["user_id"] for u in found] == [user_id]
    with pytest.raises(StoreNotFound):
        await client.modify_user_address("nobody_0", NEW_ADDRESS, key())


async def test_modify_payment_settles_both_methods(
    client: StoreClient, orders: OrderPicker
) -> None:
    # Not paid by gift card; the user has a gift card that can cover the whole order.
    def fits(order: Doc, user: Doc) -> bool:
        amount = order["payment_history"][0]["amount"]
        return not paid_by(order, user, "gift_card") and any(
            g["balance"] >= amount for g in gift_cards(user)
        )

    order = orders.take(both(pending, fits))
    user = await client.get_user(order["user_id"])
    assert user is not None
    amount = order["payment_history"][0]["amount"]
    card = next(g for g in gift_cards(user) if g["balance"] >= amount)
    result = await client.modify_order_payment(order["order_id"], card["id"], key())
    assert result["status"] == "pending"
    assert result["payment_history"][1:] == [
        {"transaction_type": "payment", "amount": amount, "payment_method_id": card["id"]},
        {
            "transaction_type": "refund",
            "amount": amount,
            "payment_method_id": order["payment_history"][0]["payment_method_id"],
        },
    ]
    after = await client.get_user(order["user_id"])
    assert after is not None
    assert after["payment_methods"][card["id"]]["balance"] == round(card["balance"] - amount, 2)
    # Only once: the order now has more than one payment.
    with pytest.raises(StoreRejected):
        await client.modify_order_payment(
            order["order_id"], order["payment_history"][0]["payment_method_id"], key()
        )


async def test_modify_payment_refusals(client: StoreClient, orders: OrderPicker, seed: Doc) -> None:
    def poor_card(order: Doc, user: Doc) -> bool:
        amount = order["payment_history"][0]["amount"]
        return not paid_by(order, user, "gift_card") and any(
            g["balance"] < amount for g in gift_cards(user)
        )

    order = orders.take(both(pending, poor_card))
    user = seed["users"][order["user_id"]]
    amount = order["payment_history"][0]["amount"]
    card = next(g for g in gift_cards(user) if g["balance"] < amount)
    with pytest.raises(StoreRejected, match="insufficient balance"):
        await client.modify_order_payment(order["order_id"], card["id"], key())
    same = order["payment_history"][0]["payment_method_id"]
    with pytest.raises(StoreRejected, match="differ"):
        await client.modify_order_payment(order["order_id"], same, key())
    stranger = next(u for u in seed["users"].values() if u["user_id"] != user["user_id"])
    with pytest.raises(StoreRejected, match="does not belong"):
        await client.modify_order_payment(
            order["order_id"], next(iter(stranger["payment_methods"])), key()
        )
    assert await client.get_order(order["order_id"]) == order


async def test_modify_items_once_with_price_difference(
    client: StoreClient, orders: OrderPicker, seed: Doc
) -> None:
    def swappable(order: Doc, user: Doc) -> bool:
        return paid_by(order, user, "credit_card") and any(
            other_variant(seed, i) for i in order["items"]
        )

    order = orders.take(both(pending, swappable))
    item = next(i for i in order["items"] if other_variant(seed, i))
    variant = other_variant(seed, item)
    assert variant is not None
    method = order["payment_history"][0]["payment_method_id"]
    result = await client.modify_order_items(
        order["order_id"], [item["item_id"]], [variant["item_id"]], method, key()
    )
    assert result["status"] == "pending (item modified)"
    changed = next(i for i in result["items"] if i["item_id"] == variant["item_id"])
    assert changed["price"] == variant["price"]
    assert changed["options"] == variant["options"]
    diff = round(variant["price"] - item["price"], 2)
    if diff:
        last = result["payment_history"][-1]
        assert last["amount"] == abs(diff)
        assert last["transaction_type"] == ("payment" if diff > 0 else "refund")
    with pytest.raises(StoreRejected, match="already modified"):
        await client.modify_order_items(
            order["order_id"], [variant["item_id"]], [item["item_id"]], method, key()
        )


async def test_modify_items_refusals(client: StoreClient, orders: OrderPicker, seed: Doc) -> None:
    def costlier_than_card(order: Doc, user: Doc) -> bool:
        return any(
            (v := other_variant(seed, i, cheaper=False))
            and any(g["balance"] < v["price"] - i["price"] for g in gift_cards(user))
            for i in order["items"]
        )

    order = orders.take(both(pending, costlier_than_card))
    user = seed["users"][order["user_id"]]
    item = next(i for i in order["items"] if other_variant(seed, i, cheaper=False))
    variant = other_variant(seed, item, cheaper=False)
    assert variant is not None
    card = next(g for g in gift_cards(user) if g["balance"] < variant["price"] - item["price"])
    oid, method = order["order_id"], order["payment_history"][0]["payment_method_id"]
    with pytest.raises(StoreRejected, match="insufficient balance"):
        await client.modify_order_items(
            oid, [item["item_id"]], [variant["item_id"]], card["id"], key()
        )
    with pytest.raises(StoreRejected, match="not a variant"):
        await client.modify_order_items(
            oid, [item["item_id"]], [foreign_product_item(seed, item)], method, key()
        )
    with pytest.raises(StoreRejected, match="not in order"):
        await client.modify_order_items(oid, ["0000000000"], [variant["item_id"]], method, key())
    with pytest.raises(StoreRejected, match="same"):
        await client.modify_order_items(oid, [item["item_id"]], [item["item_id"]], method, key())
    with pytest.raises(StoreRejected) as err:
        await client.modify_order_items(oid, [item["item_id"]], [], method, key())
    assert err.value.status_code == 422
    unavailable = next(
        (
            v
            for v in seed["products"][item["product_id"]]["variants"].values()
            if not v["available"]
        ),
        None,
    )
    if unavailable is not None:
        with pytest.raises(StoreRejected, match="not available"):
            await client.modify_order_items(
                oid, [item["item_id"]], [unavailable["item_id"]], method, key()
            )
    assert await client.get_order(oid) == order


async def test_return_delivered_items(client: StoreClient, orders: OrderPicker, seed: Doc) -> None:
    order = orders.with_status("delivered")
    items = [order["items"][0]["item_id"]]
    method = order["payment_history"][0]["payment_method_id"]
    result = await client.return_order_items(order["order_id"], items, method, key())
    assert result["status"] == "return requested"
    assert result["return_items"] == items
    assert result["return_payment_method_id"] == method
    assert result["payment_history"] == order["payment_history"]  # refunded on receipt


async def test_return_refusals(client: StoreClient, orders: OrderPicker, seed: Doc) -> None:
    def has_other_non_gift_method(order: Doc, user: Doc) -> bool:
        original = order["payment_history"][0]["payment_method_id"]
        return any(
            m["id"] != original and m["source"] != "gift_card"
            for m in user["payment_methods"].values()
        )

    order = orders.take(both(delivered, has_other_non_gift_method))
    user = seed["users"][order["user_id"]]
    original = order["payment_history"][0]["payment_method_id"]
    other = next(
        m["id"]
        for m in user["payment_methods"].values()
        if m["id"] != original and m["source"] != "gift_card"
    )
    oid, item = order["order_id"], order["items"][0]["item_id"]
    with pytest.raises(StoreRejected, match="original payment method"):
        await client.return_order_items(oid, [item], other, key())
    with pytest.raises(StoreRejected, match="not in order"):
        await client.return_order_items(oid, [item] * 9, original, key())
    pend = orders.with_status("pending")
    with pytest.raises(StoreRejected, match="only delivered"):
        await client.return_order_items(
            pend["order_id"], [pend["items"][0]["item_id"]], original, key()
        )
    assert await client.get_order(oid) == order


async def test_exchange_delivered_items(
    client: StoreClient, orders: OrderPicker, seed: Doc
) -> None:
    order = orders.take(
        both(
            delivered,
            lambda o, u: not paid_by(o, u, "gift_card"),
            lambda o, u: any(other_variant(seed, i) for i in o["items"]),
        )
    )
    item = next(i for i in order["items"] if other_variant(seed, i))
    variant = other_variant(seed, item)
    assert variant is not None
    method = order["payment_history"][0]["payment_method_id"]
    oid = order["order_id"]
    with pytest.raises(StoreRejected, match="not a variant"):
        await client.exchange_order_items(
            oid, [item["item_id"]], [foreign_product_item(seed, item)], method, key()
        )
    result = await client.exchange_order_items(
        oid, [item["item_id"]], [variant["item_id"]], method, key()
    )
    assert result["status"] == "exchange requested"
    assert result["exchange_items"] == [item["item_id"]]
    assert result["exchange_new_items"] == [variant["item_id"]]
    assert result["exchange_price_difference"] == round(variant["price"] - item["price"], 2)
    with pytest.raises(StoreRejected, match="only delivered"):
        await client.exchange_order_items(
            oid, [item["item_id"]], [variant["item_id"]], method, key()
        )


async def test_cancel_saga_steps(client: StoreClient, orders: OrderPicker) -> None:
    order = orders.take(both(pending, lambda o, u: paid_by(o, u, "gift_card")))
    oid = order["order_id"]
    paid = order["payment_history"][0]
    # Release without a hold is a harmless no-op: compensations must always be runnable.
    assert (await client.release_order(oid, key()))["status"] == "pending"
    with pytest.raises(StoreRejected, match="on hold before"):
        await client.refund_order(oid, key())
    await client.hold_order(oid, key(), reason="customer asked to cancel")
    assert (await client.get_hold(oid))["held"] is True
    with pytest.raises(StoreRejected, match="already on hold"):
        await client.hold_order(oid, key())
    with pytest.raises(StoreRejected, match="on hold"):
        await client.modify_order_address(oid, NEW_ADDRESS, key())
    with pytest.raises(StoreRejected, match="exceeds"):
        await client.refund_order(oid, key(), amount=paid["amount"] + 1)
    refunded = await client.refund_order(oid, key())
    assert refunded["status"] == "pending"
    assert refunded["refund_applied"] == paid["amount"]  # what this refund applied
    assert refunded["payment_history"][-1] == {**paid, "transaction_type": "refund"}
    with pytest.raises(StoreRejected, match="refunded under this hold"):
        await client.release_order(oid, key())
    cancelled = await client.cancel_order(oid, "no longer needed", key())
    assert cancelled["status"] == "cancelled"
    assert len(cancelled["payment_history"]) == 2  # the cancel found nothing left to refund
    assert (await client.get_hold(oid))["held"] is False


async def test_hold_then_release_restores_everything(
    client: StoreClient, orders: OrderPicker
) -> None:
    order = orders.with_status("pending")
    await client.hold_order(order["order_id"], key())
    await client.release_order(order["order_id"], key())
    assert (await client.get_hold(order["order_id"]))["held"] is False
    assert await client.get_order(order["order_id"]) == order
    with pytest.raises(StoreRejected, match="cannot hold"):
        await client.hold_order(orders.with_status("delivered")["order_id"], key())


async def test_unknown_fields_and_routes_are_refused(store: ThreadedStore) -> None:
    async with httpx.AsyncClient(base_url=store.url) as http:
        r = await http.post(
            "/orders/%23W2611340/cancel", json={"reason": "no longer needed", "x": 1}
        )
        assert r.status_code == 422
        r = await http.post("/orders/%23W2611340/cancel", content=b"{not json")
        assert r.status_code == 422
        assert (await http.get("/nope")).status_code == 404


def test_invariants_hold_after_the_write_tests(store: ThreadedStore) -> None:
    assert check(store.db_path) == []
