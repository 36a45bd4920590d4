"""Options that exist on no variant (understanding/absent_options.py): item matching returns no
variant of that product rather than a wrong one, and leaves real variants alone. Against the
demo store's seed and a small Shopify-shaped catalogue."""

from __future__ import annotations

import pytest

from supportflow.understanding.catalogue import Catalogue
from supportflow.understanding.entities import extract
from supportflow.understanding.store_catalogue import demo_catalogue


def products(text: str, catalogue: Catalogue | None = None) -> set[str]:
    return {i.name for i in extract(text, catalogue).items}


def variants(text: str, product: str, catalogue: Catalogue | None = None) -> list[dict[str, str]]:
    cat = demo_catalogue() if catalogue is None else catalogue
    by_id = {v.item_id: dict(v.options) for p in cat.products for v in p.variants}
    return [by_id[i.item_id] for i in extract(text, catalogue).items if i.name == product]


@pytest.mark.parametrize(
    "text",
    [
        "I want to exchange it for a green office chair",  # chairs: black, blue, gray, red
        "the office chair in green please",
        "a <b>green</b> office chair",
        "clicky 60% white mechanical keyboard",  # no keyboard has all three
        "the mechanical keyboard with clicky, 60%, white",
        "size 13 hiking boots",  # boots: 7 to 12
        "the hiking boots in size 13",
        "hiking boots size 10.5",
        "t-shirt size xxxl",
        "the black and white sneakers",  # sneakers: black, gray, red
        "swap my blue electric kettle",  # kettles: black, silver, white
    ],
)
def test_options_that_exist_on_no_variant_match_no_variant(text: str) -> None:
    assert products(text) == set()


@pytest.mark.parametrize(
    ("text", "product", "expected"),
    [
        (
            "the blue 1000ml glass water bottle",
            "Water Bottle",
            [{"capacity": "1000ml", "material": "glass", "color": "blue"}],
        ),
        (
            "clicky 60% RGB mechanical keyboard",
            "Mechanical Keyboard",
            [{"switch type": "clicky", "backlight": "RGB", "size": "60%"}],
        ),
    ],
)
def test_a_variant_that_exists_is_still_matched(
    text: str, product: str, expected: list[dict[str, str]]
) -> None:
    assert variants(text, product) == expected


def test_options_the_product_does_not_have_do_not_hide_it() -> None:
    # Keyboards are not sold by color: "black" describes it, it asks for no missing variant.
    assert len(variants("my black mechanical keyboard", "Mechanical Keyboard")) == 20
    # A question about size names no size.
    assert len(variants("what size is the hiking boots", "Hiking Boots")) > 1


def test_a_size_that_exists_narrows_the_variants() -> None:
    found = variants("size 10 leather hiking boots", "Hiking Boots")
    assert found and all(v["size"] == "10" and v["material"] == "leather" for v in found)


def test_each_product_and_each_mention_is_judged_on_its_own() -> None:
    # A red bottle exists; a red kettle does not.
    assert products("the blue water bottle and the red electric kettle") == {"Water Bottle"}
    # An exchange names the old variant and the new one; both exist.
    found = variants("swap my red water bottle for a blue water bottle", "Water Bottle")
    assert found and {v["color"] for v in found} <= {"red", "blue"}
    # The new one does not exist: no variant rather than the old one.
    assert products("swap my red water bottle for a purple water bottle") == set()


def test_a_shops_own_catalogue_is_judged_by_its_own_options() -> None:
    shop = Catalogue.from_products(
        [
            {
                "product_id": "p1",
                "name": "Hiking Boots",
                "variants": {
                    "v1": {"item_id": "v1", "options": {"Size": "7", "Material": "leather"}},
                    "v2": {"item_id": "v2", "options": {"Size": "10", "Material": "leather"}},
                    "v3": {"item_id": "v3", "options": {"Size": "10", "Material": "synthetic"}},
                },
            },
            {
                "product_id": "p2",
                "name": "Camp Stove",
                "variants": {
                    "v4": {"item_id": "v4", "options": {"Fuel": "propane"}},
                    "v5": {"item_id": "v5", "options": {"Fuel": "butane"}},
                },
            },
        ]
    )
    assert [i.item_id for i in extract("size 10 synthetic hiking boots", shop).items] == ["v3"]
    assert extract("size 7 synthetic hiking boots", shop).items == []
    assert extract("hiking boots in size 9", shop).items == []
    assert [i.item_id for i in extract("the propane camp stove", shop).items] == ["v4"]
    # "leather" is a value of the boots' material, never of a stove's options.
    assert {i.item_id for i in extract("leather camp stove", shop).items} == {"v4", "v5"}
