"""The cancel saga's steps on Shopify: hold (``fulfillmentOrderHold``), release
(``fulfillmentOrderReleaseHold``), refund, then ``orderCancel(refund: false)``, each at most
once per idempotency key; and what Shopify lacks is refused, not attempted. Against the fake
Admin API on loopback (a stand-in for the paid service)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from supportflow.store.adapters.shopify import SHOPIFY_CAPABILITIES, ShopifyAdapter, hold_handle
from supportflow.store.errors import StoreRejected, StoreUnavailable
from supportflow.store.port import Capability, UnsupportedOperation
from tests.adapters.fake_shopify import SHOPIFY_TOKEN, ShopifyState


@pytest.fixture
async def saga_shop(shopify_url: str) -> AsyncIterator[ShopifyAdapter]:
    """Built as the registry builds it: the cancel does not refund (the saga did)."""
    async with ShopifyAdapter(
        shopify_url,
        SecretStr(SHOPIFY_TOKEN),
        refund_on_cancel=False,
        job_poll_interval=0.01,
        job_poll_max_interval=0.05,
        job_timeout=5,
    ) as adapter:
        yield adapter


def _holds(state: ShopifyState, name: str) -> list[str]:
    fos = state.by_name(name)["fulfillmentOrders"]["nodes"]
    return [h["handle"] for fo in fos for h in fo["fulfillmentHolds"]]


async def test_hold_is_placed_once_per_key_and_released_by_its_key(
    saga_shop: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    held = await saga_shop.hold_order("#1001", "wf/case/a1.hold", reason="no longer needed")
    assert held["status"] == "pending"  # held, not processed: it can still be cancelled
    assert _holds(shopify_state, "#1001") == [hold_handle("wf/case/a1.hold")]
    assert shopify_state.by_name("#1001")["displayFulfillmentStatus"] == "ON_HOLD"
    # A retry of the same step finds its hold and places no second one.
    await saga_shop.hold_order("#1001", "wf/case/a1.hold", reason="no longer needed")
    assert len(shopify_state.mutations("fulfillmentOrderHold")) == 1
    # A merchant's own hold is never released by ours.
    fo = shopify_state.by_name("#1001")["fulfillmentOrders"]["nodes"][0]
    fo["fulfillmentHolds"].append({"id": "gid://shopify/FulfillmentHold/1", "handle": None})
    await saga_shop.release_order(
        "#1001", "wf/case/a1.hold~undo", hold_idempotency_key="wf/case/a1.hold"
    )
    assert [h["handle"] for h in fo["fulfillmentHolds"]] == [None]
    (released,) = shopify_state.mutations("fulfillmentOrderReleaseHold")
    assert (
        len(released["holdIds"]) == 1
        and released["holdIds"][0] != "gid://shopify/FulfillmentHold/1"
    )
    # Releasing again, or a hold that never applied: nothing to do, nothing written.
    await saga_shop.release_order(
        "#1001", "wf/case/a1.hold~undo", hold_idempotency_key="wf/case/a1.hold"
    )
    await saga_shop.release_order("#1004", "other~undo", hold_idempotency_key="never-held")
    assert len(shopify_state.mutations("fulfillmentOrderReleaseHold")) == 1


async def test_hold_whose_answer_was_lost_is_not_repeated(
    saga_shop: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.lose_response_of.add("fulfillmentOrderHold")
    with pytest.raises(StoreUnavailable):
        await saga_shop.hold_order("#1004", "k-lost")
    await saga_shop.hold_order("#1004", "k-lost")  # the retry sees the hold in place
    assert _holds(shopify_state, "#1004") == [hold_handle("k-lost")]
    assert len(shopify_state.mutations("fulfillmentOrderHold")) == 1


async def test_only_a_pending_order_is_held(saga_shop: ShopifyAdapter) -> None:
    with pytest.raises(StoreRejected, match="delivered"):
        await saga_shop.hold_order("#1002", "k-delivered")
    with pytest.raises(StoreRejected, match="cancelled"):
        await saga_shop.hold_order("#1003", "k-cancelled")


async def test_saga_order_refund_then_cancel_without_a_second_refund(
    saga_shop: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    await saga_shop.hold_order("#1001", "s.hold")
    await saga_shop.refund_order("#1001", "s.refund")
    cancelled = await saga_shop.cancel_order("#1001", "no longer needed", "s.cancel")
    assert cancelled["status"] == "cancelled"
    refunds = [
        p["amount"] for p in cancelled["payment_history"] if p["transaction_type"] == "refund"
    ]
    assert refunds == [254.42]  # the saga's refund; the cancel refunded nothing more
    (cancel,) = shopify_state.mutations("orderCancel")
    assert cancel["refund"] is False and cancel["restock"] is True
    assert "refundMethod" not in cancel
    # The cancelled order's fulfillment orders are closed, with no hold left.
    assert _holds(shopify_state, "#1001") == []
    # The same step again: the order is cancelled already, nothing is sent.
    await saga_shop.cancel_order("#1001", "no longer needed", "s.cancel")
    assert len(shopify_state.mutations("orderCancel")) == 1


async def test_what_shopify_lacks_is_refused(saga_shop: ShopifyAdapter) -> None:
    assert saga_shop.capabilities == SHOPIFY_CAPABILITIES
    for lacking in (
        Capability.MODIFY_ORDER_PAYMENT,
        Capability.MODIFY_ORDER_ITEMS,
        Capability.RETURN_ORDER_ITEMS,
        Capability.EXCHANGE_ORDER_ITEMS,
        Capability.MODIFY_USER_ADDRESS,
        Capability.GET_PRODUCT,
    ):
        assert lacking not in saga_shop.capabilities
    with pytest.raises(UnsupportedOperation, match="return_order_items"):
        await saga_shop.return_order_items("#1002", ["x"], "shopify_payments", "k")
    with pytest.raises(UnsupportedOperation):
        await saga_shop.modify_user_address("gid://shopify/Customer/1", {}, "k")
