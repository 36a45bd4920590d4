"""The demo client's sales calls against the real demo store over loopback: discount codes
(the same key gives the same code), checkouts (unknown: None), placing and delivering."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from supportflow.store.adapters.demo import DemoStoreAdapter
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.errors import StoreNotFound, StoreRejected
from supportflow.store.port import Capability, DiscountSpec, StorePort
from tests.demo_store.conftest import ThreadedStore
from tests.demo_store.sales_helpers import available_items, method_of, users_paying_with

USERS = users_paying_with("credit_card")


def key() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module")
def sales_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedStore]:
    with ThreadedStore(tmp_path_factory.mktemp("sales") / "store.db") as running:
        yield running


@pytest.fixture
async def client(sales_store: ThreadedStore) -> AsyncIterator[StoreClient]:
    async with StoreClient(sales_store.url, timeout=10) as c:
        yield c


async def test_the_demo_adapter_offers_both_sales_capabilities(
    sales_store: ThreadedStore,
) -> None:
    async with DemoStoreAdapter(sales_store.url) as port:
        assert isinstance(port, StorePort)
        assert {Capability.CREATE_DISCOUNT_CODE, Capability.GET_CHECKOUT} <= port.capabilities


async def test_same_key_same_code(client: StoreClient) -> None:
    expires = datetime.now(UTC) + timedelta(days=7)
    spec = DiscountSpec(kind="percentage", value=15, expires_at=expires, customer_id=USERS[0])
    k = key()
    first = await client.create_discount_code(spec, k)
    assert await client.create_discount_code(spec, k) == first
    assert first["code"].startswith("SAVE-")
    assert {k: first[k] for k in ("kind", "value", "usage_limit", "customer_id")} == {
        "kind": "percentage",
        "value": 15,
        "usage_limit": 1,
        "customer_id": USERS[0],
    }
    assert datetime.fromisoformat(first["expires_at"]) == expires
    other = await client.create_discount_code(spec, key())
    assert other["code"] != first["code"]
    status = await client.get_discount_code(first["code"])
    assert status is not None
    assert (status["usage_count"], status["expired"]) == (0, False)
    assert await client.get_discount_code("NOT-A-CODE") is None


async def test_naive_expiry_is_utc_and_a_past_one_refused(client: StoreClient) -> None:
    naive = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    spec = DiscountSpec(kind="free_shipping", value=0, expires_at=naive, code=f"SHIP-{key()[:8]}")
    made = await client.create_discount_code(spec, key())
    assert datetime.fromisoformat(made["expires_at"]) == naive.replace(tzinfo=UTC)
    past = DiscountSpec(kind="fixed_amount", value=5, expires_at=datetime.now(UTC))
    with pytest.raises(StoreRejected) as err:
        await client.create_discount_code(past, key())
    assert err.value.status_code == 422


async def test_checkout_read_place_and_deliver(client: StoreClient) -> None:
    assert await client.get_checkout("ck_unknown") is None
    user_id = USERS[1]
    (item,) = available_items(1)
    checkout = await client.create_checkout(
        user_id, {item["item_id"]: 1}, key(), accepts_email_marketing=True
    )
    read = await client.get_checkout(checkout["id"])
    assert read == checkout
    assert set(read) >= {
        "id",
        "customer_id",
        "email",
        "phone",
        "line_items",
        "total_price",
        "completed_order_id",
        "abandoned_checkout_url",
        "created_at",
    }
    assert set(read["line_items"][0]) >= {"item_id", "product_id", "title", "quantity", "price"}
    order = await client.complete_checkout(checkout["id"], method_of(user_id, "credit_card"), key())
    after = await client.get_checkout(checkout["id"])
    assert after is not None
    assert after["completed_order_id"] == order["order_id"]
    delivered = await client.deliver_order(order["order_id"], key())
    assert delivered["status"] == "delivered"
    with pytest.raises(StoreNotFound):
        await client.complete_checkout("ck_unknown", "credit_card_1", key())
