"""Item matching per tenant: the understand activity matches a tenant's words against that
tenant's own catalogue, read through its store port (the real registry, app database, demo
store and the fake Shopify Admin API on loopback) and kept in a ``CatalogueCache``; never the
demo seed for another store. The cache refreshes after its TTL, stays bounded, loads once at a
time, and a store that is down costs item matching, never the turn, and is asked again later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from supportflow.activities.ai import AiActivities
from supportflow.activities.catalogue_cache import CatalogueCache
from supportflow.activities.contract import UnderstandInput
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.store.adapters.demo import DemoStoreAdapter
from supportflow.store.adapters.shopify import SHOPIFY_CAPABILITIES, ShopifyAdapter
from supportflow.store.connection import tenant_env_name
from supportflow.store.port import Capability
from supportflow.store.registry import StaticPorts
from supportflow.understanding.catalogue import EMPTY_CATALOGUE, Catalogue
from supportflow.understanding.contract import Context
from supportflow.understanding.local import get_local_engine
from supportflow.worker import Queue, build_workers
from tests.adapters.fake_shopify import SHOPIFY_TOKEN, ShopifyState
from tests.adapters.test_registry import Clock, registry, tenant
from tests.helpers import free_port

TTL, RETRY = 300.0, 30.0


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def catalogue_reads(state: ShopifyState) -> int:
    return len(state.mutations("productVariants"))  # every call of that root field


async def next_catalogue(cache: CatalogueCache, tenant_id: str, old: Catalogue) -> Catalogue:
    """The catalogue a background refresh puts in place of ``old``."""
    for _ in range(200):
        found = await cache.get(tenant_id)
        if found is not old:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError("the catalogue was not refreshed")


async def understand(ai: AiActivities, tenant_id: str, text: str) -> list[tuple[str, str]]:
    """(item id, product name) the activity matched; run in a thread like the worker does."""
    inp = UnderstandInput(tenant_id=tenant_id, text=text, context=Context())
    result = await asyncio.to_thread(ai.understand, inp)
    return [(i.item_id, i.name) for i in result.entities.items]


# -- each tenant its own catalogue ---------------------------------------------------------------


async def test_a_shopify_tenant_is_matched_against_its_own_catalogue(
    sessions: sessionmaker[Session], store_url: str, shopify_url: str, shopify_state: ShopifyState
) -> None:
    demo_tenant = tenant(sessions, "Demo Shop", {"backend": "demo"})
    shop = tenant(
        sessions, "Outdoor Shop", {"backend": "shopify", "shop": shopify_url, "token_env": "TOK"}
    )
    environ = {tenant_env_name(shop, "TOK"): SHOPIFY_TOKEN}
    stove = {
        v["selectedOptions"][0]["value"]: v["id"]
        for v in shopify_state.catalogue.variants
        if v["product"]["title"] == "Camp Stove"
    }
    async with (
        registry(sessions, store_url, environ, Clock()) as ports,
        CatalogueCache(ports) as catalogues,
    ):
        ai = AiActivities(get_local_engine(), catalogues=catalogues)
        # A product only this shop sells, narrowed down by its option.
        assert await understand(ai, shop, "I want to return the propane camp stove") == [
            (stove["propane"], "Camp Stove")
        ]
        # A product only the demo store sells means nothing to this shop.
        assert await understand(ai, shop, "where is my smart watch?") == []
        # A product both sell: this shop's variants, never the demo store's.
        bottles = await understand(ai, shop, "the water bottle I ordered")
        assert bottles and all(
            i.startswith("gid://shopify/ProductVariant/") and n == "Water Bottle"
            for i, n in bottles
        )
        # The demo tenant is matched as before, against the demo store.
        assert await understand(ai, demo_tenant, "the blue 1000ml glass water bottle") == [
            ("6469567736", "Water Bottle")
        ]
        assert await understand(ai, demo_tenant, "my propane camp stove") == []
    assert catalogue_reads(shopify_state) == 1  # one read served the shop's three turns


# -- the cache -----------------------------------------------------------------------------------


async def test_a_fresh_catalogue_is_served_from_the_cache_and_refreshed_after_its_ttl(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    clock = Clock()
    async with CatalogueCache(StaticPorts(shopify), ttl=TTL, clock=clock) as cache:
        first = await cache.get("t1")
        assert {p.name for p in first.products} >= {"Camp Stove", "Trail Map"}
        clock.now += TTL - 1
        assert await cache.get("t1") is first
        assert catalogue_reads(shopify_state) == 1
        # The merchant adds a product: it arrives once the TTL has run out. The turn that
        # finds the catalogue due keeps it (no wait for the store); the refresh runs meanwhile.
        shopify_state.catalogue.variant("Bear Canister", {}, "70.00")
        clock.now += 2
        assert await cache.get("t1") is first
        refreshed = await next_catalogue(cache, "t1", first)
        assert "Bear Canister" in {p.name for p in refreshed.products}
        assert catalogue_reads(shopify_state) == 2
        # Tenants are cached apart, even on one backend.
        await cache.get("t2")
        assert catalogue_reads(shopify_state) == 3


async def test_a_store_down_costs_item_matching_not_the_turn_and_is_asked_again_later(
    shopify: ShopifyAdapter, shopify_state: ShopifyState, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    caplog.set_level(logging.WARNING, logger="supportflow.activities.catalogue_cache")
    async with CatalogueCache(
        StaticPorts(shopify), ttl=TTL, retry_after=RETRY, clock=clock
    ) as cache:
        shopify_state.http_errors_next.append(503)
        assert await cache.get("t1") is EMPTY_CATALOGUE
        (record,) = caplog.records
        assert "t1" in record.getMessage() and "StoreUnavailable 503" in record.getMessage()
        # Not asked again on every turn while it is down...
        assert await cache.get("t1") is EMPTY_CATALOGUE
        assert catalogue_reads(shopify_state) == 0  # the 503 never reached the resolver
        # ...but asked again after the retry delay, not after the whole TTL.
        clock.now += RETRY + 1
        loaded = await cache.get("t1")
        assert len(loaded) == 5
        # A failed refresh keeps the catalogue it had, and is tried again after the delay.
        clock.now += TTL + 1
        shopify_state.http_errors_next.append(502)
        assert await cache.get("t1") is loaded  # served while the refresh runs (and fails)
        for _ in range(200):
            if len(caplog.records) == 2:
                break
            await asyncio.sleep(0.01)
        assert "StoreUnavailable 502" in caplog.records[1].getMessage()
        assert "keeping the previous one" in caplog.records[1].getMessage()
        assert await cache.get("t1") is loaded and catalogue_reads(shopify_state) == 1
        clock.now += RETRY + 1
        assert len(await next_catalogue(cache, "t1", loaded)) == 5  # read again
        assert catalogue_reads(shopify_state) == 2


async def test_understanding_works_while_the_store_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="supportflow.activities.catalogue_cache")
    text = "please cancel order #W2611340 with the blue water bottle, email me at a@b.example"
    async with (
        DemoStoreAdapter(f"http://127.0.0.1:{free_port()}") as gone,
        CatalogueCache(StaticPorts(gone)) as catalogues,
    ):
        ai = AiActivities(get_local_engine(), catalogues=catalogues)
        result = await asyncio.to_thread(
            ai.understand, UnderstandInput(tenant_id="t1", text=text, context=Context())
        )
    assert result.entities.order_ids == ["#W2611340"]
    assert result.entities.items == []  # no catalogue: the procedure asks which item
    assert result.entities.emails == ["a@b.example"]
    assert "engine_error" not in result.flags
    # Logged without the customer's words or details.
    assert caplog.records
    for record in caplog.records:
        message = record.getMessage()
        assert "StoreUnavailable" in message
        assert "W2611340" not in message and "a@b.example" not in message


async def test_a_slow_store_costs_one_turn_its_items_and_fills_the_cache_meanwhile(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.latency_s = 0.5
    async with CatalogueCache(StaticPorts(shopify), wait=0.1) as cache:
        assert await cache.get("t1") is EMPTY_CATALOGUE  # did not wait for the store
        shopify_state.latency_s = 0.0
        # The load goes on without the turn that started it, and the next turns get it.
        for _ in range(100):
            if len(await cache.get("t1")) == 5:
                break
            await asyncio.sleep(0.05)
        assert len(await cache.get("t1")) == 5
        assert catalogue_reads(shopify_state) == 1


async def test_concurrent_turns_share_one_load(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.latency_s = 0.2
    async with CatalogueCache(StaticPorts(shopify)) as cache:
        results = await asyncio.gather(*(cache.get("t1") for _ in range(5)))
    assert len({id(r) for r in results}) == 1 and len(results[0]) == 5
    assert catalogue_reads(shopify_state) == 1


async def test_the_cache_is_bounded_least_recently_used_first(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    async with CatalogueCache(StaticPorts(shopify), max_tenants=2) as cache:
        for tenant_id in ("a", "b", "a", "c"):  # "b" is then the least recently used
            await cache.get(tenant_id)
        assert catalogue_reads(shopify_state) == 3
        await cache.get("a")
        assert catalogue_reads(shopify_state) == 3
        await cache.get("b")  # was dropped: read again
        assert catalogue_reads(shopify_state) == 4


class NoCatalogueShop(ShopifyAdapter):
    """A backend that cannot list its products."""

    capabilities = SHOPIFY_CAPABILITIES - {Capability.LIST_PRODUCTS}


async def test_a_backend_without_a_catalogue_matches_no_items(
    shopify_url: str, shopify_state: ShopifyState
) -> None:
    clock = Clock()
    async with (
        NoCatalogueShop(shopify_url, SecretStr(SHOPIFY_TOKEN)) as shop,
        CatalogueCache(StaticPorts(shop), clock=clock) as cache,
    ):
        assert await cache.get("t1") is EMPTY_CATALOGUE
        clock.now += RETRY + 1
        assert await cache.get("t1") is EMPTY_CATALOGUE  # an answer, kept for the TTL
    assert catalogue_reads(shopify_state) == 0


async def test_worker_threads_wait_on_the_loop_and_the_loop_is_never_blocked(
    shopify: ShopifyAdapter,
) -> None:
    async with CatalogueCache(StaticPorts(shopify)) as cache:
        from_thread = await asyncio.to_thread(cache.catalogue_for, "t1")
        assert len(from_thread) == 5
        assert cache.catalogue_for("t1") is from_thread  # fresh: no hop to the loop
        with pytest.raises(RuntimeError, match="await get"):
            cache.catalogue_for("t2")  # would deadlock the loop it runs on


async def test_the_cache_refuses_nonsense_settings(shopify: ShopifyAdapter) -> None:
    for bad in ({"ttl": 0}, {"retry_after": -1}, {"wait": 0}, {"max_tenants": 0}):
        with pytest.raises(ValueError, match="positive"):
            CatalogueCache(StaticPorts(shopify), **bad)  # type: ignore[arg-type]


async def test_an_ai_only_worker_has_the_tenants_ports_for_their_catalogues(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    """The ai queue alone (a scaled-out AI worker) still reads catalogues per tenant."""
    async with build_workers(dev_env.client, settings, [Queue.AI]) as workers:
        assert [w.task_queue for w in workers] == [settings.task_queue_ai]
