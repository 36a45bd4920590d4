"""Product answers from the demo seed's catalogue: stock and price of the variants named,
alternatives in stock for a sold-out one, comparisons between named variants, and the words
the shipped `product_info` template makes of them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from supportflow.activities import contract
from supportflow.demo_store.seeding import load_seed
from supportflow.replies.render import compiled, render
from supportflow.replies.sandbox import render_limited
from supportflow.replies.templates import DEFAULT_TEMPLATES
from supportflow.sales import products
from supportflow.sales.products import ProductAnswer, ProductAnswers, answer_product, option_words

CATALOGUE: dict[str, Any] = load_seed()["products"]
WATER_BOTTLE = "8310926033"
RED_GLASS_LITRE = "1434748144"  # 1000ml, glass, red: sold out, $49.72
BLUE_GLASS_LITRE = "6469567736"  # 1000ml, glass, blue: sold out, $47.84
BLACK_STEEL_LITRE = "7661609223"  # 1000ml, stainless steel, black: in stock, $46.51
BOOKSHELF = "8600330539"
WHITE_WOOD_5FT = "8479046075"  # wood, white, 5 ft: $451.01
WHITE_WOOD_4FT = "8920458606"  # wood, white, 4 ft: $510.02
BROWN_METAL_6FT = "6735339143"  # metal, brown, 6 ft: $471.77
GARDEN_HOSE = "6679515468"
GREEN_RUBBER_25FT = "5753502325"  # 25ft, rubber, green: sold out, $96.35


def product(product_id: str) -> dict[str, Any]:
    """A private copy: an edge case may change it without touching the others."""
    return copy.deepcopy(CATALOGUE[product_id])


def reply(*answers: ProductAnswer) -> str:
    return render("product_info", {"products": [a.model_dump() for a in answers]})


def test_a_sold_out_variant_gets_the_closest_in_stock_ones_of_the_same_product() -> None:
    answer = answer_product(product(WATER_BOTTLE), [RED_GLASS_LITRE])
    (alt,) = answer.alternatives
    assert (alt.item_id, alt.label) == (RED_GLASS_LITRE, "1000ml, glass, red")
    # Two values in common first (1000ml, red), then one each, closest price first:
    # $47.76 and $46.51 are nearer $49.72 than the 500ml glass ones ($45.13, $45.09).
    assert [(v.item_id, v.price, v.differs) for v in alt.variants] == [
        ("2439754078", "$49.51", {"material": "stainless steel"}),
        ("6777246137", "$47.76", {"capacity": "750ml", "material": "stainless steel"}),
        ("7661609223", "$46.51", {"material": "stainless steel", "color": "black"}),
    ]
    assert all(v.available for v in alt.variants)
    assert reply(answer) == (
        "The Water Bottle in 1000ml, glass, red is out of stock right now; in stock: the same "
        "in stainless steel at $49.51, in 750ml and stainless steel at $47.76 or in stainless "
        "steel and black at $46.51. The Water Bottle comes in 12 versions in stock, $45.09 to "
        "$54.85 (capacity: 1000ml, 750ml, 500ml; material: glass, stainless steel, plastic; "
        "color: red, black, blue, green)."
    )


def test_nothing_is_offered_twice_nor_a_variant_already_named() -> None:
    answer = answer_product(
        product(WATER_BOTTLE), [RED_GLASS_LITRE, BLUE_GLASS_LITRE, BLACK_STEEL_LITRE]
    )
    assert [a.item_id for a in answer.alternatives] == [RED_GLASS_LITRE, BLUE_GLASS_LITRE]
    red, blue = ([v.item_id for v in a.variants] for a in answer.alternatives)
    # The black one was named (and is in stock): it is answered, never offered.
    assert red == ["2439754078", "6777246137", "8538875209"]
    # The blue one's nearest by price, $46.51 and $47.76, were the red one's or named.
    assert blue == ["6974536207", "7843064651", "5758737025"]
    assert not set(red) & set(blue) and BLACK_STEEL_LITRE not in red + blue


def test_no_alternatives_when_the_variants_named_are_in_stock() -> None:
    answer = answer_product(product(BOOKSHELF), [WHITE_WOOD_5FT])
    assert answer.alternatives == [] and answer.comparison is None
    assert answer.asked[0].available


def test_ties_go_to_the_closest_price_then_the_item_id() -> None:
    hose = product(GARDEN_HOSE)
    # Two in-stock hoses that differ from the sold-out one in colour alone, at one price
    # (same gap), and a third as close in price but sharing less.
    for item_id, options, price in (
        ("9000000002", {"length": "25ft", "material": "rubber", "color": "blue"}, 97.00),
        ("9000000001", {"length": "25ft", "material": "rubber", "color": "black"}, 97.00),
        ("9000000000", {"length": "50ft", "material": "rubber", "color": "blue"}, 96.35),
    ):
        hose["variants"][item_id] = {
            "item_id": item_id,
            "options": options,
            "available": True,
            "price": price,
        }
    (alt,) = answer_product(hose, [GREEN_RUBBER_25FT]).alternatives
    assert [v.item_id for v in alt.variants] == ["9000000001", "9000000002", "3369928769"]
    assert [v.differs_words for v in alt.variants] == [["black"], ["blue"], ["vinyl"]]


def test_two_variants_named_are_compared_on_price_and_the_option_they_differ_in() -> None:
    answer = answer_product(product(BOOKSHELF), [WHITE_WOOD_5FT, WHITE_WOOD_4FT])
    c = answer.comparison
    assert c is not None and c.count == 2 and not c.same_price
    assert (c.cheaper.item_id, c.dearer.item_id) == (WHITE_WOOD_5FT, WHITE_WOOD_4FT)
    assert (c.difference, c.differs_in) == ("$59.01", ["height"])
    assert (c.cheaper.differs, c.dearer.differs) == ({"height": "5 ft"}, {"height": "4 ft"})
    assert reply(answer) == (
        "The Bookshelf in wood, white, 5 ft is in stock at $451.01. The Bookshelf in wood, "
        "white, 4 ft is in stock at $510.02. The 4 ft one is $59.01 more than the 5 ft one; "
        "they differ in height. The Bookshelf comes in 15 versions in stock, $451.01 to "
        "$549.84 (material: wood, glass, metal; color: white, brown, black; height: 5 ft, "
        "6 ft, 4 ft, 3 ft)."
    )


def test_of_three_named_the_dearest_is_set_against_the_cheapest() -> None:
    answer = answer_product(product(BOOKSHELF), [WHITE_WOOD_4FT, BROWN_METAL_6FT, WHITE_WOOD_5FT])
    c = answer.comparison
    assert c is not None and (c.cheaper.item_id, c.dearer.item_id) == (
        WHITE_WOOD_5FT,
        WHITE_WOOD_4FT,
    )
    assert "Of those 3, the 4 ft one is the dearest, $59.01 more than the 5 ft one; they " in (
        reply(answer)
    )


def test_variants_at_one_price_cost_the_same_and_the_reply_says_how_they_differ() -> None:
    shelf = product(BOOKSHELF)
    shelf["variants"][WHITE_WOOD_4FT]["price"] = 451.01
    answer = answer_product(shelf, [WHITE_WOOD_5FT, WHITE_WOOD_4FT])
    assert answer.comparison is not None and answer.comparison.same_price
    assert answer.comparison.difference == "$0.00"
    assert "Both cost the same, $451.01; they differ in height." in reply(answer)
    # A sold-out one is compared too, and several differences are listed in English.
    bottle = answer_product(product(WATER_BOTTLE), [RED_GLASS_LITRE, BLACK_STEEL_LITRE])
    assert (
        "The glass, red one is $3.21 more than the stainless steel, black one; they differ in "
        "material and color." in reply(bottle)
    )


def test_all_sold_out_means_no_alternatives_and_the_reply_says_so() -> None:
    hose = product(GARDEN_HOSE)
    for v in hose["variants"].values():
        v["available"] = False
    answer = answer_product(hose, [GREEN_RUBBER_25FT])
    assert answer.in_stock == 0 and answer.alternatives == []
    assert reply(answer) == (
        "The Garden Hose in 25ft, rubber, green is out of stock right now. The Garden Hose is "
        "out of stock in every version right now (length: 25ft, 50ft, 100ft; material: "
        "rubber, vinyl, latex; color: green, blue, black)."
    )


def test_ids_not_of_this_product_are_ignored() -> None:
    answer = answer_product(product(BOOKSHELF), ["no-such-item", RED_GLASS_LITRE])
    assert answer.asked == [] and answer.alternatives == [] and answer.comparison is None
    # One found among unknown ones: nothing to compare it with.
    answer = answer_product(product(BOOKSHELF), ["no-such-item", WHITE_WOOD_5FT, "x"])
    assert [v.item_id for v in answer.asked] == [WHITE_WOOD_5FT] and answer.comparison is None
    # A name repeated counts once.
    answer = answer_product(product(BOOKSHELF), [WHITE_WOOD_5FT, WHITE_WOOD_5FT])
    assert len(answer.asked) == 1 and answer.comparison is None


def test_a_product_without_options_is_still_answered() -> None:
    hose = product(GARDEN_HOSE)
    for v in hose["variants"].values():
        v.pop("options")
    sold_out, in_stock = GREEN_RUBBER_25FT, "9829827210"  # $96.35, $90.43
    answer = answer_product(hose, [sold_out, in_stock])
    assert answer.options == {} and answer.asked[0].label == ""
    # Nothing tells the variants apart: no comparison; alternatives by price alone.
    assert answer.comparison is None
    (alt,) = answer.alternatives
    assert [(v.item_id, v.price, v.differs) for v in alt.variants] == [
        ("3369928769", "$97.35", {}),
        ("5206946487", "$95.08", {}),
        ("8481719475", "$98.61", {}),
    ]
    assert reply(answer).startswith(
        "The Garden Hose is out of stock right now; in stock: the same at $97.35, at $95.08 or "
        "at $98.61. The Garden Hose is in stock at $90.43. The Garden Hose comes in 6 versions "
        "in stock, $90.43 to $102.90."
    )


def test_option_values_read_naturally() -> None:
    assert [
        option_words(k, v)
        for k, v in (
            ("height", "6 ft"),
            ("size", "10"),
            ("size", "XL"),
            ("color", "red"),
            ("material", "stainless steel"),
            ("sole", "EVA"),
            ("backlight", "none"),
            ("waterproof", "yes"),
            ("ventilation", "high"),
            ("processor", "i7"),
        )
    ] == [
        "6 ft",
        "size 10",
        "size XL",
        "red",
        "stainless steel",
        "sole EVA",
        "no backlight",
        "waterproof",
        "high ventilation",
        "processor i7",
    ]


def test_answers_recorded_before_the_new_parts_still_load_and_read_the_same() -> None:
    # The models are the ones the activity contract has always exported.
    assert contract.ProductAnswers is ProductAnswers
    assert contract.VariantAnswer is products.VariantAnswer
    old = {
        "products": [
            {
                "name": "Water Bottle",
                "price_range": "$45.09 to $54.85",
                "in_stock": 12,
                "variants": 18,
                "options": {"capacity": ["1000ml", "750ml"]},
                "asked": [{"label": "1000ml, glass, red", "available": False, "price": "$49.72"}],
            }
        ]
    }
    loaded = ProductAnswers.model_validate(old)
    (p,) = loaded.products
    assert p.alternatives == [] and p.comparison is None and p.asked[0].item_id is None
    expected = (
        "The Water Bottle in 1000ml, glass, red is out of stock right now. The Water Bottle "
        "comes in 12 versions in stock, $45.09 to $54.85 (capacity: 1000ml, 750ml)."
    )
    # Facts of the old shape (no new keys at all) and the old payload loaded now.
    assert render("product_info", old) == expected
    assert render("product_info", loaded.model_dump()) == expected


@pytest.mark.parametrize("item_ids", [[RED_GLASS_LITRE, BLACK_STEEL_LITRE], []])
def test_the_shipped_wording_also_runs_in_the_merchant_sandbox(item_ids: list[str]) -> None:
    # A merchant starts an override from the shipped text: it must pass the limits as is.
    facts = {"products": [answer_product(product(WATER_BOTTLE), item_ids).model_dump()]}
    limited = render_limited(compiled(DEFAULT_TEMPLATES["product_info"]), facts)
    assert " ".join(limited.split()) == render("product_info", facts)
