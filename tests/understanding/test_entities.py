"""Rule-based entity extraction."""

from __future__ import annotations

import pytest

from supportflow.understanding.entities import extract


@pytest.mark.parametrize(
    "text",
    [
        "cancel #W2611340 please",
        "cancel W2611340 please",
        "my order 2611340 has not arrived",
        "order number 2611340",
        "the order is w 261 1340",
        "order W2 611 340",
        "#w2611340",
        "it's 2611340",
        "ordr #W2611340",
    ],
)
def test_order_id_forms_normalise(text: str) -> None:
    assert extract(text).order_ids == ["#W2611340"]


def test_bitext_style_order_ids_with_typos() -> None:
    assert extract("cancel oredr 113542617735902").order_ids == ["#W113542617735902"]
    assert extract("is it possible to check pucrhase 370795561790 status").order_ids == [
        "#W370795561790"
    ]
    assert extract("how to change oforder 00004587345").order_ids == ["#W00004587345"]


def test_order_id_not_taken_from_phone_or_small_numbers() -> None:
    ents = extract("call me on 415-555-0132, I bought 3 items for $45")
    assert ents.order_ids == []
    assert ents.phones == ["+14155550132"]


def test_several_order_ids_keep_order() -> None:
    assert extract("orders #W2611340 and #W4817420").order_ids == ["#W2611340", "#W4817420"]


def test_emails() -> None:
    ents = extract("reach me at Noah.Brown7922@example.com.")
    assert ents.emails == ["noah.brown7922@example.com"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my number is (415) 555-0132", "+14155550132"),
        ("phone: 415.555.0132", "+14155550132"),
        ("call +44 20 7946 0958", "+442079460958"),
    ],
)
def test_phones_e164(text: str, expected: str) -> None:
    assert extract(text).phones == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my zip code is 80279", ["80279"]),
        ("Denver, CO 80279", ["80279"]),
        ("80279", ["80279"]),
        ("zip: 10083-1234", ["10083"]),
        ("I have 12345 reasons", []),
    ],
)
def test_zip_codes(text: str, expected: list[str]) -> None:
    assert extract(text).zip_codes == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("refund $45.10 please", [45.1]),
        ("I paid 45 dollars", [45.0]),
        ("it cost $1,200.50 and 20 bucks shipping", [1200.5, 20.0]),
        ("order #W2611340", []),
    ],
)
def test_amounts(text: str, expected: list[float]) -> None:
    assert extract(text).amounts == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My name is Noah Brown", ["Noah Brown"]),
        ("my name is noah brown", ["Noah Brown"]),
        ("Hi, I'm Yusuf Rossi", ["Yusuf Rossi"]),
        ("I'm trying to cancel", []),
        ("the invoice from Ms. Hawkings", ["Ms. Hawkings"]),
        ("bill from Anna Freeman", ["Anna Freeman"]),
    ],
)
def test_person_names(text: str, expected: list[str]) -> None:
    assert extract(text).person_names == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cancel it, I no longer need it", "no longer needed"),
        ("I don't want it anymore", "no longer needed"),
        ("I changed my mind", "no longer needed"),
        ("I ordered it by mistake", "ordered by mistake"),
        ("accidentally bought two", "ordered by mistake"),
        ("I ordered the wrong size", "ordered by mistake"),
        ("please cancel order #W2611340", None),
    ],
)
def test_cancel_reason(text: str, expected: str | None) -> None:
    assert extract(text).cancel_reason == expected


def test_item_with_options_matches_one_variant() -> None:
    items = extract("the blue 1000ml glass water bottle").items
    assert [(i.item_id, i.product_id) for i in items] == [("6469567736", "8310926033")]
    assert items[0].score == 1.0


def test_item_without_options_returns_all_variants_of_product() -> None:
    items = extract("I want to return my water bottle").items
    assert len(items) > 1
    assert {i.product_id for i in items} == {"8310926033"}
    assert all(i.score == 0.5 for i in items)


def test_item_spelling_variants() -> None:
    assert {i.name for i in extract("two t-shirts and a tshirt").items} == {"T-Shirt"}
    assert extract("nothing from the store here").items == []
