"""Read API over real HTTP: shapes equal the tau2 seed, '#' in order ids, customer lookups."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import phonenumbers
import pytest

from supportflow.demo_store.db import create_store_engine
from supportflow.demo_store.repository import StoreRepository
from supportflow.demo_store.seeding import seed_if_empty
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.errors import StoreRejected
from tests.demo_store.conftest import Doc, ThreadedStore


def _sample(ids: list[str], n: int) -> list[str]:
    return random.Random(42).sample(sorted(ids), n)


async def test_orders_equal_the_seed(client: StoreClient, seed: Doc) -> None:
    for order_id in ["#W2611340", *_sample(list(seed["orders"]), 15)]:
        assert await client.get_order(order_id) == seed["orders"][order_id]


async def test_users_equal_the_seed_plus_a_phone(client: StoreClient, seed: Doc) -> None:
    for user_id in ["noah_brown_6181", *_sample(list(seed["users"]), 15)]:
        user = await client.get_user(user_id)
        assert user is not None
        phone = user.pop("phone")
        assert user == seed["users"][user_id]
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone))


async def test_products_equal_the_seed(client: StoreClient, seed: Doc) -> None:
    for product_id in _sample(list(seed["products"]), 10):
        assert await client.get_product(product_id) == seed["products"][product_id]


async def test_missing_records_are_none(client: StoreClient) -> None:
    assert await client.get_order("#W0000000") is None
    assert await client.get_user("nobody_0") is None
    assert await client.get_product("0") is None


async def test_order_id_hash_is_url_encoded_or_optional(store: ThreadedStore, seed: Doc) -> None:
    expected = seed["orders"]["#W2611340"]
    async with httpx.AsyncClient(base_url=store.url) as http:
        assert (await http.get("/orders/%23W2611340")).json() == expected
        assert (await http.get("/orders/W2611340")).json() == expected
        missing = await http.get("/orders/%23W0000000")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "order #W0000000 not found"}
        assert (await http.get("/health")).json() == {"status": "ok"}


async def test_find_by_email_is_case_insensitive(client: StoreClient) -> None:
    found = await client.find_users(email="  Noah.Brown7922@EXAMPLE.com")
    assert [u["user_id"] for u in found] == ["noah_brown_6181"]
    assert await client.find_users(email="nobody@example.com") == []


async def test_find_by_name_and_zip(client: StoreClient) -> None:
    found = await client.find_users(first_name="noah", last_name="BROWN", zip="80279")
    assert [u["user_id"] for u in found] == ["noah_brown_6181"]
    assert await client.find_users(first_name="Noah", last_name="Brown", zip="00000") == []


async def test_find_by_phone_in_any_common_format(client: StoreClient) -> None:
    user = await client.get_user("noah_brown_6181")
    assert user is not None
    e164 = user["phone"]
    national = f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    for form in (e164, national, e164[2:]):
        assert [u["user_id"] for u in await client.find_users(phone=form)] == ["noah_brown_6181"]
    with pytest.raises(StoreRejected) as err:  # not a phone number at all (test_phones.py)
        await client.find_users(phone="12")
    assert err.value.status_code == 422


@pytest.mark.parametrize(
    "query",
    [{}, {"email": "a@b.c", "phone": "+12025550100"}, {"first_name": "Noah", "zip": "80279"}],
)
async def test_find_needs_exactly_one_complete_lookup(
    client: StoreClient, query: dict[str, str]
) -> None:
    with pytest.raises(StoreRejected) as err:
        await client.find_users(**query)
    assert err.value.status_code == 422


async def test_product_list(client: StoreClient, store: ThreadedStore, seed: Doc) -> None:
    async with httpx.AsyncClient(base_url=store.url) as http:
        listed = (await http.get("/products")).json()["products"]
    assert {p["product_id"] for p in listed} == set(seed["products"])
    assert [p["name"] for p in listed] == sorted(p["name"] for p in listed)


def test_seeding_is_idempotent_and_phones_deterministic(tmp_path: Path) -> None:
    phones = []
    for name in ("a.db", "b.db"):
        engine = create_store_engine(tmp_path / name)
        assert seed_if_empty(engine) is True
        assert seed_if_empty(engine) is False  # a second start never reseeds
        with engine.connect() as conn:
            users = StoreRepository(conn).all_users()
        engine.dispose()
        assert len(users) == 500
        phones.append({u["user_id"]: u["phone"] for u in users})
    assert phones[0] == phones[1]
    assert len(set(phones[0].values())) == 500
