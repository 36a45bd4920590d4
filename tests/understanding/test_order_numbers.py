"""Order numbers as each store prints them (understanding/order_numbers.py): the forms customers
write, the numbers that are something else, several ids in one message, and the reconciliation
the understand activity applies to an engine's answer (entities.with_order_numbers)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportflow.understanding.contract import Context, Entities, Understanding
from supportflow.understanding.entities import extract, plain_text, with_order_numbers
from supportflow.understanding.local import LocalEngine
from supportflow.understanding.order_numbers import (
    DEMO_ORDER_NUMBERS,
    SHOPIFY_ORDER_NUMBERS,
    OrderNumberFormat,
    order_numbers,
)

SHOPIFY = SHOPIFY_ORDER_NUMBERS
CUSTOM = OrderNumberFormat(prefix="SF-", suffix="-EU")
NO_PREFIX = OrderNumberFormat(prefix="")


def ids(text: str, fmt: OrderNumberFormat = SHOPIFY, awaiting: str | None = None) -> list[str]:
    return extract(text, order_format=fmt, awaiting=awaiting).order_ids


# -- Shopify: what customers type ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "#1001",
        "# 1001",
        "order 1001",
        "Order 1001 hasn't arrived",
        "order no. 1001",
        "order no 1001",
        "Order Nr. 1001",
        "order number 1001",
        "my order number is 1001",
        "my order ID: 1001",
        "order: 1001",
        "ORDER #1001",
        "Order#1001",
        "order1001 never came",
        "ordr 1001",
        "oder 1001 is late",
        "purchase 1001",
        "where is my order 1001?",
        "Can order 1001 be cancelled?",
        "when will order 1001 get here",
        "where is my order now, number #1001",
        "2 items from order 1001 are missing",
        "I need help with my order, the number is #1001",
        "<b>order 1001</b>",
        "order &#35;1001",
        "order №1001".replace("№", "#"),
    ],
)
def test_shopify_forms_normalise_to_the_shops_name(text: str) -> None:
    assert ids(text) == ["#1001"]


@pytest.mark.parametrize(
    "text", ["1001", "its 1001", "it's 1001 thanks", "Sure: 1001", "#1001", "1001 pls hurry"]
)
def test_a_bare_number_answers_the_agents_question_for_an_order(text: str) -> None:
    assert ids(text, awaiting="order_id") == ["#1001"]


@pytest.mark.parametrize(
    "text",
    [
        "1001",
        "need help with 1005",
        "I waited 1001 seconds",
        "call 1001 times",
        "there are 2023 reasons",
    ],
)
def test_a_bare_number_without_a_cue_is_not_an_order_when_nobody_asked(text: str) -> None:
    assert ids(text) == []
    assert ids(text, awaiting="address") == []


# -- numbers that are something else --------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # prices
        "it cost $1001",
        "it was 1001 dollars",
        "I paid 1001",
        "USD 1001",
        "price 1001",
        "total: 1001",
        # quantities and measures
        "1001 units",
        "qty 1001",
        "x1001",
        "1500 ml",
        "I ordered 1001 pieces",
        "I'd like to order 500 pens",
        "I want to order 1000 more",
        "I will order 500 pens",
        "could you order 100 spare parts",
        "order 150 dollars",
        # addresses
        "my address is 1200 Main St, Springfield, IL 62704",
        "1001 N Elm Street",
        "Denver CO 80279",
        "zip 80279",
        "apt #1203",
        "apartment 1203",
        "suite 400",
        # codes the workflow reads itself, and codes of other kinds
        "the code is 851133",
        "the code you sent me is 851133",
        "my OTP 851133",
        "pin code 851133",
        "verification code: 851133",
        "card ending 1001",
        "card ending in 1001",
        "last four 1001",
        "ticket #4521",
        "case 4521",
        "size 1001",
        "model 4090",
        "RTX4090",
        # phones
        "call me at 415-555-0132",
        "+44 20 7946 0958",
        "020 7946 0958",
        "(415) 555 0132",
        # dates, times, years, decimals
        "I bought it in 2023",
        "on May 5, 2023",
        "since 2021",
        "12/05/2024",
        "2024-05-12",
        "10:30",
        "10.01",
        "1,001",
        "the 1001st time",
        # other stores' forms, and what is too short to be an order
        "#W5500001",
        "order #W5500001",
        "I'm your #1 fan",
        "order 12",
        "#12",
        # an email's digits
        "john1001@example.com",
    ],
)
def test_numbers_that_are_something_else_are_not_order_numbers(text: str) -> None:
    assert ids(text, awaiting="order_id") == []


def test_while_a_code_is_awaited_no_bare_number_is_an_order() -> None:
    assert ids("851133", awaiting="verification_code") == []
    assert ids("1001", awaiting="verification_code") == []
    assert ids("2611340", DEMO_ORDER_NUMBERS, awaiting="verification_code") == []
    # An order named with a cue is still read.
    assert ids("the code is 851133, my order is 1001", awaiting="verification_code") == ["#1001"]


def test_a_zip_answer_is_a_zip_unless_an_order_number_was_asked_for() -> None:
    plain = extract("94107", order_format=SHOPIFY)
    assert plain.order_ids == [] and plain.zip_codes == ["94107"]
    asked = extract("94107", order_format=SHOPIFY, awaiting="order_id")
    assert asked.order_ids == ["#94107"] and asked.zip_codes == []


def test_prices_stay_amounts_and_phones_stay_phones() -> None:
    ents = extract("order 1001: I paid $45.10, call me at 415-555-0132", order_format=SHOPIFY)
    assert ents.order_ids == ["#1001"]
    assert ents.amounts == [45.1]
    assert ents.phones == ["+14155550132"]


# -- several order ids -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("orders 1001, 1002 and 1003", ["#1001", "#1002", "#1003"]),
        ("orders 1001 & 1002", ["#1001", "#1002"]),
        ("#1002 and #1001, then #1002 again", ["#1002", "#1001"]),
        ("order 1003 arrived but order 1001 did not", ["#1003", "#1001"]),
        ("order 1001 and 2 more items", ["#1001"]),
        ("order 1001 and 1500 dollars", ["#1001"]),
    ],
)
def test_several_order_ids_all_in_order_once_each(text: str, expected: list[str]) -> None:
    assert ids(text) == expected


def test_several_demo_ids_all_in_order_once_each() -> None:
    text = "cancel #W2611340 and W4817420, and also 2611340 again; order 9999999 too"
    assert ids(text, DEMO_ORDER_NUMBERS) == ["#W2611340", "#W4817420", "#W9999999"]


# -- a shop's own prefix and suffix ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["SF-1001-EU", "sf1001", "SF 1001", "#SF-1001", "order 1001", "order no. 1001-EU", "#1001"],
)
def test_a_custom_prefix_and_suffix_give_the_shops_full_name(text: str) -> None:
    assert ids(text, CUSTOM) == ["SF-1001-EU"]


def test_a_shop_without_prefix_names_orders_by_their_number() -> None:
    assert ids("order #1001", NO_PREFIX) == ["1001"]
    assert ids("1001", NO_PREFIX, awaiting="order_id") == ["1001"]
    assert ids("1001", NO_PREFIX) == []


def test_the_demo_store_keeps_its_forms_and_ignores_shopify_ones() -> None:
    for text in ("cancel #W2611340", "order 2611340", "it's 2611340", "w 261 1340"):
        assert ids(text, DEMO_ORDER_NUMBERS) == ["#W2611340"], text
    assert ids("order #1001", DEMO_ORDER_NUMBERS) == []
    assert ids("261 1340", DEMO_ORDER_NUMBERS, awaiting="order_id") == ["#W2611340"]
    # A bare 7-digit number is the demo store's id, unless marked as something else.
    for text in ("it cost $2611340", "the code is 2611340", "2611340 units"):
        assert ids(text, DEMO_ORDER_NUMBERS) == [], text


# -- the format itself ---------------------------------------------------------------------


def test_names_and_their_recognition() -> None:
    assert SHOPIFY.name("1001") == "#1001"
    assert CUSTOM.name("1001") == "SF-1001-EU"
    assert DEMO_ORDER_NUMBERS.name("2611340") == "#W2611340"
    assert SHOPIFY.is_name("#1001") and not SHOPIFY.is_name("#W1001")
    assert not SHOPIFY.is_name("1001") and NO_PREFIX.is_name("1001")
    assert CUSTOM.is_name("sf-1001-eu") and not CUSTOM.is_name("SF-1001")
    assert DEMO_ORDER_NUMBERS.is_name("#W2611340")


@pytest.mark.parametrize(
    "bad",
    [
        {"prefix": "2024-"},
        {"suffix": "-7"},
        {"prefix": " #"},
        {"prefix": "#" * 21},
        {"prefix": "#\n"},
        {"width": 2},
        {"width": 21},
    ],
)
def test_an_unusable_format_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        OrderNumberFormat(**bad)  # type: ignore[arg-type]


# -- markup, and any text at all -----------------------------------------------------------


def test_an_address_with_markup_loses_the_markup_and_keeps_the_facts() -> None:
    text = (
        "please ship order 1001 to <b>12 Main St</b>, <i>Springfield</i>, IL 62704<br/>"
        "thanks &amp; regards, <span style='x'>Noah Brown</span>"
    )
    ents = extract(text, order_format=SHOPIFY)
    assert ents.order_ids == ["#1001"]
    assert ents.zip_codes == ["62704"]
    assert ents.person_names == ["Noah Brown"]
    dumped = ents.model_dump_json()
    assert "<" not in dumped and ">" not in dumped and "&amp;" not in dumped


def test_markup_is_removed_even_when_escaped() -> None:
    assert plain_text("&lt;b&gt;12 Main St&lt;/b&gt;").split() == ["12", "Main", "St"]
    assert plain_text("a < b and c > d") == "a < b and c > d"  # not a tag
    assert plain_text("no markup") == "no markup"


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=300),
    st.sampled_from([SHOPIFY, DEMO_ORDER_NUMBERS, CUSTOM, NO_PREFIX]),
    st.sampled_from([None, "order_id", "verification_code", "confirm"]),
)
def test_any_text_gives_only_names_of_the_store(
    text: str, fmt: OrderNumberFormat, awaiting: str | None
) -> None:
    found = order_numbers(text, fmt, awaiting=awaiting)
    assert all(fmt.is_name(name) for name in found)
    assert len(found) == len(set(found))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=100, max_value=999_999_999), min_size=1, max_size=5))
def test_listed_order_numbers_are_all_read_in_order(numbers: list[int]) -> None:
    text = "orders " + ", ".join(f"#{n}" for n in numbers)
    assert ids(text) == list(dict.fromkeys(f"#{n}" for n in numbers))


# -- the understand activity's reconciliation ------------------------------------------------


def test_the_engines_answer_is_read_again_in_the_tenants_format(engine: LocalEngine) -> None:
    text = "where is my order 1001?"
    u = engine.understand(text, Context())
    assert u.entities.order_ids == []  # the engine reads the demo store's format
    mine = with_order_numbers(u, text, SHOPIFY)
    assert mine.entities.order_ids == ["#1001"]
    assert mine.intent == u.intent and mine.confidence == u.confidence
    answer = engine.understand("1001", Context(awaiting="order_id"))
    assert with_order_numbers(answer, "1001", SHOPIFY, "order_id").entities.order_ids == ["#1001"]


def test_the_engines_rule_ids_are_replaced_and_a_models_own_reading_is_kept() -> None:
    text = "orders #W2611340 and #1001, and the one from the email"
    by_rules = extract(text).order_ids
    assert by_rules == ["#W2611340"]
    # A model read one more id from the text; one written in this shop's form is kept.
    u = Understanding(
        intent="order_status",
        confidence=0.9,
        entities=Entities(order_ids=[*by_rules, "#1002", "#W7654321"], zip_codes=["94107"]),
    )
    out = with_order_numbers(u, text, SHOPIFY).entities
    assert out.order_ids == ["#1001", "#1002"]
    assert out.zip_codes == ["94107"]


def test_a_zip_the_engine_read_is_dropped_when_it_is_the_order_asked_for() -> None:
    u = Understanding(intent="order_status", confidence=0.5, entities=Entities(zip_codes=["94107"]))
    out = with_order_numbers(u, "94107", SHOPIFY, "order_id").entities
    assert out.order_ids == ["#94107"] and out.zip_codes == []


def test_nothing_changes_for_the_demo_store_when_nothing_differs(engine: LocalEngine) -> None:
    text = "cancel #W2611340 please"
    u = engine.understand(text, Context())
    assert with_order_numbers(u, text, DEMO_ORDER_NUMBERS) is u


# -- the bad input, through the engine and the activity's reconciliation --------------


@pytest.mark.parametrize(
    ("text", "fmt", "order_ids"),
    [
        (
            "orders #1001, #1002, 1003 and #1001 again - all late!!",
            SHOPIFY,
            ["#1001", "#1002", "#1003"],
        ),
        ("cancel #W2611340 #W4817420 #W2611340", DEMO_ORDER_NUMBERS, ["#W2611340", "#W4817420"]),
        (
            "change the address of order 1001 to <b>12 Main St</b><br>Springfield, IL 62704",
            SHOPIFY,
            ["#1001"],
        ),
        ("<script>alert(1)</script><b>order #1001</b>", SHOPIFY, ["#1001"]),
        ("exchange order 1001 for a green office chair in size XXL", SHOPIFY, ["#1001"]),
    ],
)
def test_bad_input_gives_a_valid_understanding(
    engine: LocalEngine, text: str, fmt: OrderNumberFormat, order_ids: list[str]
) -> None:
    u = with_order_numbers(engine.understand(text, Context()), text, fmt)
    assert Understanding.model_validate(u.model_dump()) == u
    assert u.entities.order_ids == order_ids
    dumped = u.entities.model_dump_json()
    assert "<" not in dumped and ">" not in dumped
    assert all(i.name != "Office Chair" for i in u.entities.items)  # no green chair exists
