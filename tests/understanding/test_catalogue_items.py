"""Item matching takes the catalogue it matches against: another store's products are found in
its catalogue and the demo store's are not; no catalogue, no items. The engine passes the
catalogue it is given through to the matcher."""

from __future__ import annotations

from supportflow.understanding.catalogue import EMPTY_CATALOGUE, Catalogue
from supportflow.understanding.contract import Context
from supportflow.understanding.entities import extract
from supportflow.understanding.items import match_items
from supportflow.understanding.local import LocalEngine

OUTDOOR_SHOP = Catalogue.from_products(
    [
        {
            "product_id": "gid://shopify/Product/1",
            "name": "Camp Stove",
            "variants": {
                "gid://shopify/ProductVariant/11": {
                    "item_id": "gid://shopify/ProductVariant/11",
                    "options": {"fuel": "propane"},
                },
                "gid://shopify/ProductVariant/12": {
                    "item_id": "gid://shopify/ProductVariant/12",
                    "options": {"fuel": "butane"},
                },
            },
        },
        {
            "product_id": "gid://shopify/Product/2",
            "name": "Hiking Boots",
            "variants": {
                "gid://shopify/ProductVariant/21": {
                    "item_id": "gid://shopify/ProductVariant/21",
                    "options": {"size": "10", "color": "blue"},
                },
                "gid://shopify/ProductVariant/22": {
                    "item_id": "gid://shopify/ProductVariant/22",
                    "options": {"size": "9", "color": "blue"},
                },
            },
        },
    ]
)


def test_another_stores_items_are_matched_in_its_catalogue() -> None:
    found = match_items("the blue one in size 10, my hiking boots", OUTDOOR_SHOP)
    assert [(m.item_id, m.score) for m in found] == [("gid://shopify/ProductVariant/21", 1.0)]
    stove = match_items("a propane camp stove", OUTDOOR_SHOP)
    assert [m.item_id for m in stove] == ["gid://shopify/ProductVariant/11"]


def test_the_demo_stores_products_are_not_in_another_catalogue() -> None:
    assert match_items("my smart watch and the office chair", OUTDOOR_SHOP) == []
    assert extract("the blue 1000ml glass water bottle", OUTDOOR_SHOP).items == []
    assert extract("the blue 1000ml glass water bottle").items  # the demo seed, offline


def test_no_catalogue_no_items() -> None:
    assert match_items("my hiking boots", EMPTY_CATALOGUE) == []
    assert len(EMPTY_CATALOGUE) == 0


def test_the_engine_matches_against_the_catalogue_it_is_given(engine: LocalEngine) -> None:
    text = "I want to return my hiking boots, size 9"
    mine = engine.understand(text, Context(), OUTDOOR_SHOP)
    assert [i.item_id for i in mine.entities.items] == ["gid://shopify/ProductVariant/22"]
    demo = engine.understand(text, Context())
    assert demo.entities.items and all(
        not i.item_id.startswith("gid://") for i in demo.entities.items
    )
    assert engine.understand(text, Context(), EMPTY_CATALOGUE).entities.items == []
