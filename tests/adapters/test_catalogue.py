"""Listing a store's catalogue through the port (``list_products``), for item matching: the
demo store's over HTTP is exactly its seed, as the offline tools match it; Shopify's comes as
pages of ``productVariants`` from the fake Admin API on loopback (the adapter code is the
production code), grouped into the seed's product shape with the variant ids orders carry."""

from __future__ import annotations

import time

from supportflow.store.adapters.demo import DemoStoreAdapter
from supportflow.store.adapters.shopify import ShopifyAdapter
from supportflow.store.port import Capability
from supportflow.understanding.catalogue import Catalogue
from supportflow.understanding.store_catalogue import demo_catalogue
from tests.adapters.fake_shopify import ShopifyState


async def test_demo_store_lists_its_seed_catalogue(store_url: str) -> None:
    async with DemoStoreAdapter(store_url) as demo:
        assert Capability.LIST_PRODUCTS in demo.capabilities
        products = await demo.list_products()
    assert len(products) == 50
    assert all(p["variants"] for p in products)
    # What the understand activity matches for a demo tenant is what tests and tools match.
    assert Catalogue.from_products(products) == demo_catalogue()


async def test_shopify_lists_products_with_the_variant_ids_orders_carry(
    shopify: ShopifyAdapter,
) -> None:
    assert Capability.LIST_PRODUCTS in shopify.capabilities
    products = {p["name"]: p for p in await shopify.list_products()}
    assert set(products) == {
        "Electric Kettle",
        "Water Bottle",
        "Hiking Boots",
        "Camp Stove",
        "Trail Map",
    }
    stove = products["Camp Stove"]
    assert stove["product_id"].startswith("gid://shopify/Product/")
    variants = list(stove["variants"].values())
    assert [v["options"] for v in variants] == [{"fuel": "propane"}, {"fuel": "butane"}]
    assert [v["available"] for v in variants] == [True, False]
    assert [v["price"] for v in variants] == [89.0, 79.0]
    assert all(item_id == v["item_id"] for item_id, v in stove["variants"].items())
    # Shopify's placeholder option of a product without options is not an option.
    (trail_map,) = products["Trail Map"]["variants"].values()
    assert trail_map["options"] == {}
    # An order's items name catalogue variants, as the demo store's do.
    order = await shopify.get_order("#1001")
    assert order is not None
    for item in order["items"]:
        product = next(p for p in products.values() if p["product_id"] == item["product_id"])
        assert product["variants"][item["item_id"]]["options"] == item["options"]


async def test_shopify_catalogue_is_read_page_by_page(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    for n in range(300):  # more than one page of 250
        shopify_state.catalogue.variant("Sock Pack", {"Pattern": f"pattern {n}"}, "5.00")
    products = {p["name"]: p for p in await shopify.list_products()}
    assert len(products["Sock Pack"]["variants"]) == 300
    pages = shopify_state.mutations("productVariants")  # every call with its variables
    assert [p["first"] for p in pages] == [250, 250]
    assert pages[0]["after"] is None and pages[1]["after"]


async def test_a_throttled_page_is_waited_out(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    first = await shopify.list_products()
    shopify_state.calls.clear()
    # The fake answers the next request with HTTP 429 and Retry-After: 2.0.
    shopify_state.http_errors_next.append(429)
    started = time.monotonic()
    again = await shopify.list_products()
    assert time.monotonic() - started >= 2.0  # Shopify's hint was honoured
    assert again == first
    # The throttled request never reached the resolver; the page was then read once.
    assert len(shopify_state.mutations("productVariants")) == 1


def test_malformed_products_are_skipped_not_fatal() -> None:
    catalogue = Catalogue.from_products(
        [
            {"product_id": "p1", "name": "Camp Stove", "variants": {"v1": {"item_id": "v1"}}},
            {"product_id": "p2"},  # no name, no variants
            {"product_id": "p3", "name": "Lantern", "variants": {"v3": "not an object"}},
            {"product_id": "p4", "name": "  ", "variants": {"v4": {"item_id": "v4"}}},
        ]
    )
    assert [p.name for p in catalogue.products] == ["Camp Stove"]
