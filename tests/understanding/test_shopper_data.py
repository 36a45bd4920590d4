"""The hand-written shopper messages: file format, the held-out validation part, and what
training does with them (weights, typo copies, thresholds chosen on natural text)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from supportflow.understanding.augment import misspell, typo_variants
from supportflow.understanding.contract import Context
from supportflow.understanding.corpus import OUT_OF_SCOPE, Example, build_corpus
from supportflow.understanding.local import LocalEngine
from supportflow.understanding.shopper import (
    ShopperDataError,
    parse,
    shopper_train,
    shopper_validation,
)
from supportflow.understanding.splits import split_by_family
from supportflow.understanding.train import (
    OOS_WEIGHT,
    SHOPPER_TYPO_COPIES,
    SHOPPER_WEIGHT,
    training_set,
)

_SAMPLE = """# a comment
## track_order
@ where
where is my order
wheres my parcel
@val where_val
order not here yet

## cancel_order
@ cancel
cancel it pls
"""


def test_parse_splits_families_into_train_and_validation() -> None:
    train, val = parse(_SAMPLE.splitlines())
    assert [(e.intent, e.family, e.text) for e in train] == [
        ("track_order", "shopper:track_order:where", "where is my order"),
        ("track_order", "shopper:track_order:where", "wheres my parcel"),
        ("cancel_order", "shopper:cancel_order:cancel", "cancel it pls"),
    ]
    assert [(e.family, e.text) for e in val] == [
        ("shopper:track_order:where_val", "order not here yet")
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("where is my order\n", ":1:"),  # a message before any intent
        ("## track_order\nwhere is my order\n", ":2:"),  # before any family
        ("## track_order\n@ \n", ":2:"),  # a family with no name
        ("## track_order\n@test fam\n", ":2:"),  # an unknown marker
    ],
)
def test_malformed_files_name_the_line(text: str, where: str) -> None:
    with pytest.raises(ShopperDataError, match=where):
        parse(text.splitlines(), source="f.txt")


def test_validation_families_are_never_trained_on() -> None:
    corpus = build_corpus()
    val = shopper_validation()
    assert len(shopper_train()) >= 300 and len(val) >= 120
    assert not {e.family for e in val} & {e.family for e in corpus}
    assert not {e.text.lower() for e in val} & {e.text.lower() for e in corpus}
    # Training messages always train: none lands in the template test split.
    splits = split_by_family(corpus)
    assert not [e for e in splits.calib + splits.test if e.source == "shopper"]


def test_every_shopper_intent_is_an_engine_class(engine: LocalEngine) -> None:
    intents = {e.intent for e in shopper_train() + shopper_validation()}
    assert intents <= set(engine.model.classes)
    assert "product_question" in engine.model.classes


def test_training_set_weighs_shopper_messages_and_adds_typo_copies() -> None:
    examples = [
        Example("where is my parcel", "track_order", "shopper:track_order:x", "shopper"),
        Example("Where is my order?", "track_order", "bitext:track_order:y", "bitext"),
        Example("what is the weather", OUT_OF_SCOPE, "clinc:weather", "clinc_oos"),
    ]
    texts, labels, weights = training_set(examples)
    assert len(texts) == 3 + SHOPPER_TYPO_COPIES
    assert texts[0] == "where is my parcel"
    assert all(t != "where is my parcel" for t in texts[1 : 1 + SHOPPER_TYPO_COPIES])
    assert weights[: 1 + SHOPPER_TYPO_COPIES] == [SHOPPER_WEIGHT] * (1 + SHOPPER_TYPO_COPIES)
    assert weights[-2:] == [1.0, OOS_WEIGHT]
    assert labels[-1] == OUT_OF_SCOPE


def test_typo_variants_are_distinct_deterministic_and_close() -> None:
    text = "my package never arrived yesterday"
    a = typo_variants(text, 4, seed=0)
    assert a == typo_variants(text, 4, seed=0)
    assert len(a) == len(set(a)) == 4 and text not in a
    for v in a:
        assert len(v.split(" ")) == 5
        assert sum(x != y for x, y in zip(v.split(" "), text.split(" "), strict=True)) <= 2
    assert misspell(random.Random(1), "my") == "my"  # short words are left alone


def test_the_engine_reads_held_out_shopper_messages(engine: LocalEngine) -> None:
    """The validation families were never fitted (they chose the out-of-scope threshold): the
    shipped model read 0.81 of them right and sent 7% out of scope when this was written; the
    model before the shopper messages scored 0.46 and 45% on the first 84 of them."""
    val = shopper_validation()
    got = [engine.understand(e.text, Context()).intent for e in val]
    accuracy = np.mean([g == e.intent for g, e in zip(got, val, strict=True)])
    to_oos = np.mean([g == OUT_OF_SCOPE for g in got])
    assert accuracy >= 0.75
    assert to_oos <= 0.12


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("has my parcel left your warehouse yet", "track_order"),
        ("do you have the hiking boots in size 11", "product_question"),
        ("how much is the large one", "product_question"),
    ],
)
def test_natural_requests_are_in_scope(engine: LocalEngine, text: str, intent: str) -> None:
    assert engine.understand(text, Context()).intent == intent
