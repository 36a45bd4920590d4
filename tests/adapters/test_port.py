"""The store port: the demo store satisfies it (checked by mypy and at runtime against the real
demo store on loopback), and code written against ``StorePort`` runs unchanged on the demo
store and on Shopify (here the fake Shopify Admin API, which stands in for a paid service this
machine cannot reach; the adapter code is the production code)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from supportflow.store.adapters.demo import DemoStoreAdapter
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.adapters.shopify import ShopifyAdapter
from supportflow.store.errors import StoreRejected
from supportflow.store.port import (
    ALL_CAPABILITIES,
    Capability,
    StoreOperations,
    StorePort,
    UnsupportedOperation,
    require,
    supports,
)
from tests.adapters.fake_shopify import SHOPIFY_TOKEN
from tests.conftest import _run_store

# Static checks: mypy fails these assignments if the shapes drift apart.


def client_as_operations(client: StoreClient) -> StoreOperations:
    return client  # the demo client has every operation, with the port's signatures


def demo_as_port(adapter: DemoStoreAdapter) -> StorePort:
    return adapter


def shopify_as_port(adapter: ShopifyAdapter) -> StorePort:
    return adapter


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo store of its own: these tests write to seed orders."""
    yield from _run_store(tmp_path_factory.mktemp("port-store") / "store.db")


@pytest.fixture
async def demo(demo_url: str) -> AsyncIterator[DemoStoreAdapter]:
    async with DemoStoreAdapter(demo_url, timeout=10) as adapter:
        yield adapter


async def test_demo_client_and_adapter_satisfy_the_port(demo_url: str) -> None:
    async with StoreClient(demo_url) as client:
        assert isinstance(client_as_operations(client), StoreOperations)
        assert not isinstance(client, StorePort)  # no capabilities/tracking: hence the adapter
    async with DemoStoreAdapter(demo_url) as adapter:
        port = demo_as_port(adapter)
        assert isinstance(port, StorePort)
        assert port.capabilities == ALL_CAPABILITIES


async def test_demo_through_the_port(demo: DemoStoreAdapter) -> None:
    port: StorePort = demo
    delivered = await port.get_order("#W4817420")
    assert delivered is not None and delivered["status"] == "delivered"
    assert await port.tracking("#W4817420") == [
        {
            "tracking_id": "490313116609",
            "item_ids": ["6777246137", "4900661478", "6700049080", "9624127908", "3812493782"],
            "carrier": None,
            "url": None,
        }
    ]
    assert await port.tracking("#W0000000") is None
    (user,) = await port.find_users(email="sofia.rossi2645@example.com")
    assert user["user_id"] == "sofia_rossi_8776"
    assert await port.get_user("sofia_rossi_8776") == user
    assert await port.find_users(first_name="Sofia", last_name="Rossi", zip="78784") == [user]

    cancelled = await port.cancel_order("#W5918442", "no longer needed", "port-1/cancel")
    assert cancelled["status"] == "cancelled"
    assert cancelled["payment_history"][-1]["transaction_type"] == "refund"
    # The same step retried: the demo store replays its first answer.
    again = await port.cancel_order("#W5918442", "no longer needed", "port-1/cancel")
    assert again == cancelled

    address = {
        "address1": "1 Main St",
        "address2": "",
        "city": "Orlando",
        "country": "USA",
        "state": "FL",
        "zip": "32801",
    }
    moved = await port.modify_order_address("#W2974929", address, "port-2/address")
    assert moved["address"] == address
    # On the demo store a refund is a cancel-saga step: it needs a hold first.
    with pytest.raises(StoreRejected, match="hold"):
        await port.refund_order("#W2631563", "port-3/refund", amount=1.0)


async def order_summary(port: StorePort, order_id: str) -> tuple[str, list[str]]:
    """Code written once against the port, as procedures are."""
    require(port, Capability.GET_ORDER, Capability.TRACKING)
    order = await port.get_order(order_id)
    assert order is not None
    shipments = await port.tracking(order_id) or []
    return order["status"], [s["tracking_id"] for s in shipments]


async def test_same_code_on_demo_and_shopify(demo: DemoStoreAdapter, shopify_url: str) -> None:
    assert await order_summary(demo, "#W4817420") == ("delivered", ["490313116609"])
    async with ShopifyAdapter(shopify_url, SecretStr(SHOPIFY_TOKEN)) as shopify:
        assert await order_summary(shopify, "#1002") == ("delivered", ["1Z999AA10123456784"])


class ReadOnlyDemo(DemoStoreAdapter):
    capabilities = frozenset({Capability.GET_ORDER, Capability.TRACKING})


async def test_capabilities_refuse_cleanly(demo_url: str) -> None:
    async with ReadOnlyDemo(demo_url) as port:
        assert supports(port, Capability.GET_ORDER)
        assert not supports(port, Capability.CANCEL_ORDER)
        with pytest.raises(UnsupportedOperation, match="cancel_order, refund_order") as caught:
            require(port, Capability.GET_ORDER, Capability.CANCEL_ORDER, Capability.REFUND_ORDER)
        assert isinstance(caught.value, StoreRejected)
        assert caught.value.status_code == 501
        assert await order_summary(port, "#W4817420") == ("delivered", ["490313116609"])
