"""Order numbers per store backend: each port says how its backend names orders (the demo store
``#W`` + 7 digits; a Shopify shop its order number prefix and suffix, read from the Admin API),
the understand activity reads customers' messages in the tenant's format (kept per tenant in an
``OrderFormatCache``), and the name it gives is the one the adapter's ``get_order`` finds. Real
registry, app database, demo store and the fake Shopify Admin API on loopback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from supportflow.activities.ai import AiActivities
from supportflow.activities.catalogue_cache import CatalogueCache
from supportflow.activities.contract import UnderstandInput
from supportflow.activities.order_formats import DEFAULT_FORMAT, OrderFormatCache
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.store.adapters.demo import DemoStoreAdapter
from supportflow.store.adapters.shopify import ShopifyAdapter
from supportflow.store.connection import tenant_env_name
from supportflow.store.errors import StoreUnavailable
from supportflow.store.port import DEMO_ORDER_NAMING, OrderNaming, StorePort
from supportflow.store.registry import StaticPorts
from supportflow.understanding.contract import Context
from supportflow.understanding.entities import extract
from supportflow.understanding.local import get_local_engine
from supportflow.understanding.order_numbers import (
    DEMO_ORDER_NUMBERS,
    SHOPIFY_ORDER_NUMBERS,
    OrderNumberFormat,
)
from tests.adapters.fake_shopify import SHOPIFY_TOKEN, ShopifyState
from tests.adapters.test_registry import Clock, registry, tenant

TTL, RETRY = 900.0, 30.0


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def shop_reads(state: ShopifyState) -> int:
    return len(state.mutations("shop"))  # every call of that root field


def as_format(naming: OrderNaming) -> OrderNumberFormat:
    return OrderNumberFormat(prefix=naming.prefix, suffix=naming.suffix, width=naming.width)


# -- what each port says -------------------------------------------------------------------


async def test_the_demo_store_names_orders_w_and_seven_digits(store_url: str) -> None:
    async with DemoStoreAdapter(store_url) as demo:
        port: StorePort = demo
        naming = await port.order_naming()
        assert naming == DEMO_ORDER_NAMING
        assert as_format(naming) == DEMO_ORDER_NUMBERS
        # The name understanding gives is one the store finds.
        (name,) = extract("where is my order 2611340?", order_format=as_format(naming)).order_ids
        order = await port.get_order(name)
        assert order is not None and order["order_id"] == "#W2611340"


async def test_a_shop_says_its_prefix_and_suffix(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    assert await shopify.order_naming() == OrderNaming(prefix="#", suffix="", width=None)
    shopify_state.rename_orders("SF-", "-EU")
    assert await shopify.order_naming() == OrderNaming(prefix="SF-", suffix="-EU")
    shopify_state.rename_orders("")
    assert await shopify.order_naming() == OrderNaming(prefix="")


async def test_settings_the_shop_will_not_show_mean_shopifys_default(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.rename_orders("SF-")
    shopify_state.denied_fields.add("shop")
    assert await shopify.order_naming() == OrderNaming(prefix="#")


async def test_a_shop_out_of_reach_is_raised_so_it_is_asked_again(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.http_errors_next.append(503)
    with pytest.raises(StoreUnavailable):
        await shopify.order_naming()


@pytest.mark.parametrize(
    ("prefix", "suffix", "message", "name"),
    [
        ("#", "", "where is my order 1001?", "#1001"),
        ("#", "", "my order number is #1002", "#1002"),
        ("SF-", "-EU", "order no. 1001 please", "SF-1001-EU"),
        ("SF-", "-EU", "sf1002", "SF-1002-EU"),
        ("", "", "order #1001", "1001"),
    ],
)
async def test_the_name_read_in_the_shops_format_is_the_one_get_order_finds(
    shopify: ShopifyAdapter,
    shopify_state: ShopifyState,
    prefix: str,
    suffix: str,
    message: str,
    name: str,
) -> None:
    shopify_state.rename_orders(prefix, suffix)
    order_format = as_format(await shopify.order_naming())
    assert extract(message, order_format=order_format).order_ids == [name]
    order = await shopify.get_order(name)
    assert order is not None and order["order_id"] == name
    assert order["order_id"] == shopify_state.by_name(name)["name"]


async def test_get_order_takes_a_shops_name_its_number_or_the_name_without_its_hash(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    for given in ("#1001", "1001", " #1001 "):
        found = await shopify.get_order(given)
        assert found is not None and found["order_id"] == "#1001", given
    shopify_state.rename_orders("#W")  # "#W1001": written without its "#" too
    found = await shopify.get_order("W1001")
    assert found is not None and found["order_id"] == "#W1001"
    assert await shopify.get_order("1001") is None  # no order is named "#1001" or "1001" now
    shopify_state.rename_orders("SF-", "-EU")
    assert await shopify.get_order("SF-1001") is None  # a name is matched exactly
    assert await shopify.get_order("SF 1001; drop") is None  # never a search term


# -- the cache -----------------------------------------------------------------------------


async def test_a_tenants_format_is_read_once_and_again_after_its_ttl(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    clock = Clock()
    async with OrderFormatCache(StaticPorts(shopify), ttl=TTL, clock=clock) as cache:
        assert await cache.get("t1") == SHOPIFY_ORDER_NUMBERS
        assert await cache.get("t1") == SHOPIFY_ORDER_NUMBERS
        assert shop_reads(shopify_state) == 1
        shopify_state.rename_orders("SF-")
        clock.now += TTL + 1
        # Due: the known format serves this turn while a refresh reads the new one.
        assert await cache.get("t1") == SHOPIFY_ORDER_NUMBERS
        for _ in range(200):
            if (await cache.get("t1")).prefix == "SF-":
                break
            await asyncio.sleep(0.01)
        assert await cache.get("t1") == OrderNumberFormat(prefix="SF-")
        assert shop_reads(shopify_state) == 2


class _Unreachable:
    """A tenant whose store cannot be reached at all."""

    def __init__(self) -> None:
        self.asked = 0

    async def port_for(self, tenant_id: str) -> StorePort:
        self.asked += 1
        raise StoreUnavailable("store down")


async def test_a_store_that_is_down_costs_the_format_never_the_turn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    ports = _Unreachable()
    with caplog.at_level(logging.WARNING, logger="supportflow.activities.order_formats"):
        async with OrderFormatCache(ports, retry_after=RETRY, clock=clock) as cache:
            assert await cache.get("t1") == DEFAULT_FORMAT
            assert await cache.get("t1") == DEFAULT_FORMAT
            assert ports.asked == 1  # not asked again before retry_after
            clock.now += RETRY + 1
            await cache.get("t1")
            await asyncio.sleep(0.05)
            assert ports.asked == 2
    assert "t1" in caplog.text and "StoreUnavailable" in caplog.text
    assert "store down" not in caplog.text  # the error's type only


async def test_a_slow_shop_costs_one_turn_its_format_then_it_is_known(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.rename_orders("SF-")
    shopify_state.latency_s = 0.5
    async with OrderFormatCache(StaticPorts(shopify), wait=0.1) as cache:
        assert await cache.get("t1") == DEFAULT_FORMAT  # this turn went on without
        for _ in range(200):
            if await cache.get("t1") != DEFAULT_FORMAT:
                break
            await asyncio.sleep(0.02)
        assert await cache.get("t1") == OrderNumberFormat(prefix="SF-")
    assert shop_reads(shopify_state) == 1  # the turn that stopped waiting left the read going


class _OddShop:
    """A backend whose naming cannot be read as a format (a digit in its prefix)."""

    def __init__(self, port: StorePort) -> None:
        self._port = port

    async def port_for(self, tenant_id: str) -> StorePort:
        return self

    def __getattr__(self, name: str) -> object:
        return getattr(self._port, name)

    async def order_naming(self) -> OrderNaming:
        return OrderNaming(prefix="2024-")


async def test_an_unusable_format_falls_back_to_the_default(shopify: ShopifyAdapter) -> None:
    async with OrderFormatCache(_OddShop(shopify)) as cache:  # type: ignore[arg-type]
        assert await cache.get("t1") == DEFAULT_FORMAT


def test_the_cache_refuses_bad_settings() -> None:
    async def build(**bad: float) -> None:
        OrderFormatCache(StaticPorts(None), **bad)  # type: ignore[arg-type]

    for bad in ({"ttl": 0}, {"retry_after": -1}, {"wait": 0}, {"max_tenants": 0}):
        with pytest.raises(ValueError):
            asyncio.run(build(**bad))


# -- the understand activity, per tenant -----------------------------------------------------


async def understood(
    ai: AiActivities, tenant_id: str, text: str, awaiting: str | None = None
) -> list[str]:
    """The order ids the activity read; run in a thread like the worker does."""
    inp = UnderstandInput(tenant_id=tenant_id, text=text, context=Context(awaiting=awaiting))
    result = await asyncio.to_thread(ai.understand, inp)
    return result.entities.order_ids


async def test_each_tenant_is_read_in_its_own_stores_format(
    sessions: sessionmaker[Session], store_url: str, shopify_url: str, shopify_state: ShopifyState
) -> None:
    demo_tenant = tenant(sessions, "Demo Shop", {"backend": "demo"})
    shop = tenant(
        sessions, "Outdoor Shop", {"backend": "shopify", "shop": shopify_url, "token_env": "TOK"}
    )
    environ = {tenant_env_name(shop, "TOK"): SHOPIFY_TOKEN}
    async with (
        registry(sessions, store_url, environ, Clock()) as ports,
        CatalogueCache(ports) as catalogues,
    ):
        ai = AiActivities(get_local_engine(), catalogues=catalogues)
        # The shop's numbers, as its customers write them.
        assert await understood(ai, shop, "where is my order 1001?") == ["#1001"]
        assert await understood(ai, shop, "orders #1002 and 1003") == ["#1002", "#1003"]
        assert await understood(ai, shop, "1004", awaiting="order_id") == ["#1004"]
        assert await understood(ai, shop, "1004") == []  # nobody asked: a number only
        assert await understood(ai, shop, "851133", awaiting="verification_code") == []
        assert await understood(ai, shop, "it cost $1001", awaiting="order_id") == []
        assert await understood(ai, shop, "cancel #W2611340") == []  # not this shop's form
        # The demo tenant is read as before.
        assert await understood(ai, demo_tenant, "cancel #W2611340") == ["#W2611340"]
        assert await understood(ai, demo_tenant, "where is my order 1001?") == []
        assert await understood(ai, demo_tenant, "261 1340", awaiting="order_id") == ["#W2611340"]
        # The shop's format was read once for all of its turns.
        assert shop_reads(shopify_state) == 1


async def test_the_shops_own_prefix_reaches_the_activity(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.rename_orders("SF-", "-EU")
    async with CatalogueCache(StaticPorts(shopify)) as catalogues:
        ai = AiActivities(get_local_engine(), catalogues=catalogues)
        (name,) = await understood(ai, "t1", "my order number is 1001, it never came")
    assert name == "SF-1001-EU"
    order = await shopify.get_order(name)
    assert order is not None and order["order_id"] == "SF-1001-EU"


def test_a_sync_caller_waits_in_its_thread(shopify_url: str) -> None:
    """``order_format_for`` from a worker thread (the understand activity) while the loop that
    owns the port does the read; on the loop itself it refuses rather than block."""

    async def main() -> None:
        async with (
            ShopifyAdapter(shopify_url, SecretStr(SHOPIFY_TOKEN)) as shop,
            OrderFormatCache(StaticPorts(shop)) as cache,
        ):
            assert await asyncio.to_thread(cache.order_format_for, "t1") == SHOPIFY_ORDER_NUMBERS
            assert cache.order_format_for("t1") == SHOPIFY_ORDER_NUMBERS  # cached: no hop
            with pytest.raises(RuntimeError):
                cache.order_format_for("t2")

    asyncio.run(main())
