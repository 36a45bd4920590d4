"""A variant named by its options as customers say them: "no backlight" is a value."""

from __future__ import annotations

import pytest

from supportflow.procedures.facts import OrderItem, Product, Variant
from supportflow.procedures.parsing import choose_variant
from supportflow.understanding.entities import extract
from supportflow.understanding.store_catalogue import demo_catalogue


def keyboard(switch: str, backlight: str, size: str, *, available: bool = True) -> Variant:
    return Variant(
        item_id=f"{switch}-{backlight}-{size}",
        options={"switch type": switch, "backlight": backlight, "size": size},
        available=available,
        price=100.0,
    )


KEYBOARD = Product(
    product_id="kb",
    name="Mechanical Keyboard",
    variants={
        v.item_id: v
        for v in (
            keyboard("clicky", "RGB", "full size"),
            keyboard("clicky", "none", "full size"),
            keyboard("clicky", "white", "full size"),
            keyboard("linear", "none", "full size"),
        )
    },
)
OLD = OrderItem(
    item_id="clicky-RGB-full size",
    product_id="kb",
    name="Mechanical Keyboard",
    price=100.0,
    options={"switch type": "clicky", "backlight": "RGB", "size": "full size"},
)


@pytest.mark.parametrize(
    "text",
    [
        "can I exchange it for the same keyboard but with no backlight",
        "the clicky one without backlight please, other options the same",
        "backlight: none",
        "same but no backlight",
    ],
)
def test_no_backlight_names_the_variant_whose_backlight_is_none(text: str) -> None:
    choice = choose_variant(OLD, KEYBOARD, [], text)
    assert choice.new is not None and choice.new.item_id == "clicky-none-full size", choice


def test_a_named_value_still_wins_and_the_rest_stays_the_same() -> None:
    choice = choose_variant(OLD, KEYBOARD, [], "I'd like the white backlight instead")
    assert choice.new is not None and choice.new.item_id == "clicky-white-full size"


def test_understanding_matches_no_backlight_to_the_catalogues_none_variant() -> None:
    items = extract(
        "exchange my mechanical keyboard for the clicky one with no backlight, full size",
        catalogue=demo_catalogue(),
    ).items
    assert items and items[0].item_id == "7706410293"  # clicky, backlight none, full size
