"""ShopifyAdapter against a fake Shopify Admin GraphQL API on loopback.

The server (``fake_shopify``, a real uvicorn/FastAPI app on a free port) stands in for a paid
service this machine cannot reach; it speaks Shopify's wire format as documented. The adapter
code under test is the production code, talking real HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import SecretStr

from supportflow.store.adapters.shopify import ShopifyAdapter
from supportflow.store.errors import StoreNotFound, StoreRejected, StoreUnavailable
from supportflow.store.port import (
    REFUND_APPLIED,
    BackendAuthError,
    Capability,
    StorePort,
    StoreThrottled,
)
from tests.adapters.fake_shopify import SHOPIFY_TOKEN, ShopifyState
from tests.helpers import free_port

ADDRESS = {
    "address1": "12 Elm Street",
    "address2": "Apt 3",
    "city": "Austin",
    "state": "TX",
    "country": "USA",
    "zip": "78701",
}


def as_port(adapter: ShopifyAdapter) -> StorePort:
    return adapter  # mypy checks that ShopifyAdapter satisfies StorePort structurally


# -- reads -------------------------------------------------------------------------------------


async def test_order_is_mapped_to_seed_shape(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    node = shopify_state.by_name("#1001")
    order = await shopify.get_order("#1001")
    assert order is not None
    assert order["order_id"] == "#1001"
    assert order["status"] == "pending"
    assert order["user_id"] == node["customer"]["id"]
    assert order["address"] == {
        "address1": "996 Cedar Street",
        "address2": "",
        "city": "San Antonio",
        "country": "US",
        "state": "TX",
        "zip": "78234",
    }
    kettle, bottle = order["items"]
    assert kettle["name"] == "Electric Kettle"
    assert kettle["price"] == 158.90
    assert kettle["options"] == {"capacity": "1.5L", "color": "silver"}
    assert kettle["item_id"] == node["lineItems"]["nodes"][0]["variant"]["id"]
    assert kettle["product_id"].startswith("gid://shopify/Product/")
    assert bottle["quantity"] == 2
    assert order["fulfillments"] == []
    assert order["payment_history"] == [
        {"transaction_type": "payment", "amount": 254.42, "payment_method_id": "shopify_payments"}
    ]
    assert order["external"]["financial_status"] == "PAID"
    # The same order by bare number and by GID.
    assert await shopify.get_order("1001") == order
    assert await shopify.get_order(node["id"]) == order


async def test_search_is_fuzzy_but_lookup_is_exact(shopify: ShopifyAdapter) -> None:
    # The fake's search for "#1001" also returns #10010 (listed after it is fine, too).
    found = await shopify.get_order("#10010")
    assert found is not None and found["order_id"] == "#10010"
    assert await shopify.get_order("#100") is None
    assert await shopify.get_order("#999") is None
    assert await shopify.get_order("gid://shopify/Order/1") is None
    assert await shopify.tracking("#999") is None


@pytest.mark.parametrize(
    ("name", "status"),
    [("#1001", "pending"), ("#1002", "delivered"), ("#1003", "cancelled"), ("#1006", "processed")],
)
async def test_status_mapping(shopify: ShopifyAdapter, name: str, status: str) -> None:
    order = await shopify.get_order(name)
    assert order is not None and order["status"] == status


async def test_tracking_from_fulfillments(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    delivered = await shopify.tracking("#1002")
    variant = shopify_state.by_name("#1002")["lineItems"]["nodes"][0]["variant"]["id"]
    assert delivered == [
        {
            "tracking_id": "1Z999AA10123456784",
            "item_ids": [variant],
            "carrier": "UPS",
            "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
        }
    ]
    # A cancelled fulfillment's tracking number is not the customer's parcel.
    in_transit = await shopify.tracking("#1006")
    assert [t["tracking_id"] for t in in_transit or []] == ["1Z999AA10123456785"]
    order = await shopify.get_order("#1006")
    assert order is not None
    assert order["fulfillments"][0]["tracking_id"] == ["1Z999AA10123456785"]
    assert await shopify.tracking("#1001") == []


async def test_users(shopify: ShopifyAdapter, shopify_state: ShopifyState) -> None:
    by_email = await shopify.find_users(email="AVA.Moore@example.com")
    assert [u["email"] for u in by_email] == ["ava.moore@example.com"]  # not the .com.au one
    user = by_email[0]
    assert user["name"] == {"first_name": "Ava", "last_name": "Moore"}
    assert user["address"]["zip"] == "78234"
    assert user["payment_methods"] == {}
    assert "#1001" in user["orders"]
    by_name = await shopify.find_users(first_name="ava", last_name="moore", zip="78701")
    assert [u["user_id"] for u in by_name] == [user["user_id"]]  # a second address's zip
    assert await shopify.find_users(first_name="Ava", last_name="Moore", zip="99999") == []
    by_phone = await shopify.find_users(phone="+1 (512) 555-0101")
    assert [u["user_id"] for u in by_phone] == [user["user_id"]]
    assert await shopify.get_user(user["user_id"]) == user
    assert await shopify.get_user(user["user_id"].rsplit("/", 1)[1]) == user
    assert await shopify.get_user("gid://shopify/Customer/1") is None
    assert await shopify.get_user("not-an-id") is None
    with pytest.raises(StoreRejected):
        await shopify.find_users(first_name="Ava")


# -- cancel ------------------------------------------------------------------------------------


async def test_cancel_polls_the_job_until_done(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.job_polls = 3
    order = await shopify.cancel_order("#1001", "no longer needed", "wf-1/cancel")
    assert order["status"] == "cancelled"
    assert order["external"]["cancel_reason"] == "CUSTOMER"
    assert order["payment_history"][-1] == {
        "transaction_type": "refund",
        "amount": 254.42,
        "payment_method_id": "shopify_payments",
    }
    (sent,) = shopify_state.mutations("orderCancel")
    assert sent["reason"] == "CUSTOMER"
    assert sent["refundMethod"] == {"originalPaymentMethodsRefund": True}
    assert sent["restock"] is True
    assert sent["notifyCustomer"] is False
    assert "no longer needed" in sent["staffNote"] and "wf-1/cancel" in sent["staffNote"]
    assert len(shopify_state.mutations("job")) == 3
    # A retry of the same step finds the order cancelled and writes nothing.
    again = await shopify.cancel_order("#1001", "no longer needed", "wf-1/cancel")
    assert again["status"] == "cancelled"
    assert len(shopify_state.mutations("orderCancel")) == 1


async def test_cancel_of_cancelled_order_is_a_no_op(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    order = await shopify.cancel_order("#1003", "ordered by mistake", "wf-2/cancel")
    assert order["status"] == "cancelled"
    assert shopify_state.mutations("orderCancel") == []


async def test_cancel_user_errors_are_rejections(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    with pytest.raises(StoreRejected, match=r"pending payment authorizations.*INVALID"):
        await shopify.cancel_order("#1005", "no longer needed", "wf-3/cancel")
    with pytest.raises(StoreRejected, match="fulfillments"):
        await shopify.cancel_order("#1002", "no longer needed", "wf-4/cancel")
    with pytest.raises(StoreNotFound):
        await shopify.cancel_order("#4242", "no longer needed", "wf-5/cancel")
    with pytest.raises(StoreRejected, match="reason"):
        await shopify.cancel_order("#1001", "changed my mind", "wf-6/cancel")
    assert len(shopify_state.mutations("orderCancel")) == 2
    order = await shopify.get_order("#1001")
    assert order is not None and order["status"] == "pending"


async def test_cancel_job_that_runs_too_long_is_transient(
    shopify_url: str, shopify_state: ShopifyState
) -> None:
    shopify_state.job_polls = 1_000
    async with ShopifyAdapter(
        shopify_url, SecretStr(SHOPIFY_TOKEN), job_poll_interval=0.01, job_timeout=0.2
    ) as slow:
        with pytest.raises(StoreUnavailable, match="still running"):
            await slow.cancel_order("#1001", "no longer needed", "wf-7/cancel")
    # Shopify finishes the job anyway; the retry finds the order cancelled, cancels nothing.
    shopify_state.finish_jobs()
    async with ShopifyAdapter(shopify_url, SecretStr(SHOPIFY_TOKEN)) as adapter:
        order = await adapter.cancel_order("#1001", "no longer needed", "wf-7/cancel")
    assert order["status"] == "cancelled"
    assert len(shopify_state.mutations("orderCancel")) == 1


# -- refunds -----------------------------------------------------------------------------------


async def test_refund_is_idempotent_by_note_marker(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    order = await shopify.refund_order("#1004", "wf-8/refund", amount=50.0)
    refunds = [p for p in order["payment_history"] if p["transaction_type"] == "refund"]
    # Allocated to the payments in order: the gift card's 44.34 first, then 5.66.
    assert refunds == [
        {"transaction_type": "refund", "amount": 44.34, "payment_method_id": "gift_card"},
        {"transaction_type": "refund", "amount": 5.66, "payment_method_id": "shopify_payments"},
    ]
    (sent,) = shopify_state.mutations("refundCreate")
    assert "[supportflow:wf-8/refund]" in sent["input"]["note"]
    assert {t["kind"] for t in sent["input"]["transactions"]} == {"REFUND"}
    assert order["external"]["financial_status"] == "PARTIALLY_REFUNDED"
    assert order[REFUND_APPLIED] == pytest.approx(50.0)  # Shopify's total of this refund
    again = await shopify.refund_order("#1004", "wf-8/refund", amount=50.0)
    assert again["payment_history"] == order["payment_history"]
    assert again[REFUND_APPLIED] == pytest.approx(50.0), "a replay reports the same refund"
    assert len(shopify_state.mutations("refundCreate")) == 1
    # Another key is another refund: the rest, to the original methods.
    rest = await shopify.refund_order("#1004", "wf-9/refund")
    assert rest["external"]["financial_status"] == "REFUNDED"
    assert rest[REFUND_APPLIED] == pytest.approx(194.34)  # all that was left
    assert sum(
        p["amount"] for p in rest["payment_history"] if p["transaction_type"] == "refund"
    ) == (pytest.approx(244.34))
    with pytest.raises(StoreRejected, match="nothing left"):
        await shopify.refund_order("#1004", "wf-10/refund")


async def test_refund_whose_answer_was_lost_is_not_repeated(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.lose_response_of.add("refundCreate")
    with pytest.raises(StoreUnavailable):
        await shopify.refund_order("#1004", "wf-11/refund", amount=10.0)
    # Shopify did refund; the retry (same key) recognises its own refund by the note.
    order = await shopify.refund_order("#1004", "wf-11/refund", amount=10.0)
    assert len(shopify_state.mutations("refundCreate")) == 1
    assert len(shopify_state.by_name("#1004")["refunds"]) == 1
    assert [p["amount"] for p in order["payment_history"] if p["transaction_type"] == "refund"] == [
        10.0
    ]


async def test_refund_limits(shopify: ShopifyAdapter, shopify_state: ShopifyState) -> None:
    with pytest.raises(StoreRejected, match="exceeds"):
        await shopify.refund_order("#1004", "wf-12/refund", amount=1_000.0)
    with pytest.raises(StoreRejected, match="exceeds"):
        await shopify.refund_order(
            "#1004", "wf-13/refund", amount=50.0, payment_method_id="gift_card"
        )
    assert shopify_state.mutations("refundCreate") == []
    order = await shopify.refund_order(
        "#1004", "wf-14/refund", amount=20.0, payment_method_id="shopify_payments"
    )
    assert order["payment_history"][-1]["payment_method_id"] == "shopify_payments"


# -- address -----------------------------------------------------------------------------------


async def test_modify_address(shopify: ShopifyAdapter, shopify_state: ShopifyState) -> None:
    order = await shopify.modify_order_address("#1001", ADDRESS, "wf-15/address")
    assert order["address"] == {**ADDRESS, "country": "US"}
    (sent,) = shopify_state.mutations("orderUpdate")
    shipping = sent["input"]["shippingAddress"]
    assert shipping["provinceCode"] == "TX" and shipping["countryCode"] == "US"
    assert (shipping["firstName"], shipping["lastName"]) == ("Ava", "Moore")  # kept
    # Asking again for the address the order already has writes nothing.
    await shopify.modify_order_address("#1001", ADDRESS, "wf-15/address")
    assert len(shopify_state.mutations("orderUpdate")) == 1
    with pytest.raises(StoreRejected, match="Zip is invalid"):
        await shopify.modify_order_address("#1001", {**ADDRESS, "zip": "7870"}, "wf-16/address")
    with pytest.raises(StoreRejected, match="delivered"):
        await shopify.modify_order_address("#1002", ADDRESS, "wf-17/address")
    with pytest.raises(StoreRejected, match="ISO"):
        await shopify.modify_order_address("#1001", {**ADDRESS, "country": "Texas"}, "k")


# -- failures ----------------------------------------------------------------------------------


async def test_throttled_is_transient_with_a_hint(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.throttle_next = 1
    with pytest.raises(StoreThrottled) as caught:
        await shopify.get_order("#1001")
    assert isinstance(caught.value, StoreUnavailable)
    assert caught.value.retry_after == pytest.approx(7.0)  # (752 - 52) / 100 per second
    assert await shopify.get_order("#1001") is not None  # the retry goes through


async def test_throttled_job_poll_is_waited_out(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.job_polls = 1
    original = shopify.graphql
    calls = 0

    async def throttle_first_poll(query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        nonlocal calls
        if "job(id" in query:
            calls += 1
            if calls == 1:
                shopify_state.throttle_next = 1
        return await original(query, variables)

    shopify.graphql = throttle_first_poll  # type: ignore[method-assign]
    order = await shopify.cancel_order("#1001", "no longer needed", "wf-18/cancel")
    assert order["status"] == "cancelled"
    assert calls == 2  # one throttled poll, one that saw the job done
    assert len(shopify_state.mutations("orderCancel")) == 1


@pytest.mark.parametrize(("status", "error"), [(429, StoreThrottled), (503, StoreUnavailable)])
async def test_http_errors(
    shopify: ShopifyAdapter, shopify_state: ShopifyState, status: int, error: type[Exception]
) -> None:
    shopify_state.http_errors_next.append(status)
    with pytest.raises(error):
        await shopify.get_order("#1001")


async def test_bad_token_is_a_permanent_auth_error(shopify_url: str) -> None:
    token = "shpat_wrong_token_value_1234567890"
    async with ShopifyAdapter(shopify_url, SecretStr(token)) as adapter:
        with pytest.raises(BackendAuthError) as caught:
            await adapter.get_order("#1001")
        assert isinstance(caught.value, StoreRejected)
        assert caught.value.status_code == 401
        assert token not in str(caught.value)
        assert token not in repr(adapter)


async def test_missing_scope_is_an_auth_error(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.denied_fields.add("refundCreate")
    with pytest.raises(BackendAuthError, match="write_orders") as caught:
        await shopify.refund_order("#1004", "wf-19/refund", amount=1.0)
    assert caught.value.status_code == 403


async def test_wrong_api_version_and_unreachable_shop(shopify_url: str) -> None:
    async with ShopifyAdapter(shopify_url, SecretStr(SHOPIFY_TOKEN), api_version="2019-01") as old:
        with pytest.raises(StoreRejected, match="API version"):
            await old.get_order("#1001")
    async with ShopifyAdapter(f"http://127.0.0.1:{free_port()}", SecretStr(SHOPIFY_TOKEN)) as gone:
        with pytest.raises(StoreUnavailable):
            await gone.get_order("#1001")


async def test_constructor_and_port() -> None:
    with pytest.raises(TypeError):
        ShopifyAdapter("shop.myshopify.com", "plain-token")  # type: ignore[arg-type]
    async with ShopifyAdapter("shop.myshopify.com", SecretStr(SHOPIFY_TOKEN)) as adapter:
        assert adapter.base_url == "https://shop.myshopify.com"
        assert SHOPIFY_TOKEN not in repr(adapter)
        assert isinstance(as_port(adapter), StorePort)
        assert Capability.CANCEL_ORDER in adapter.capabilities
