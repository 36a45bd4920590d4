"""The natural-language test set stays a test set: frozen, complete, and apart from training."""

from __future__ import annotations

import hashlib
import re
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import pytest

from supportflow.understanding import natural_set, templates, train
from supportflow.understanding.corpus import (
    DATA_PACKAGE,
    OUT_OF_SCOPE,
    build_corpus,
    clinc_raw,
    entity_cases,
    entity_free_messages,
)
from supportflow.understanding.natural_set import (
    NATURAL_FILE,
    PRODUCT_QUESTION,
    NaturalSetError,
    load_natural_set,
    normalise,
    parse_lines,
)

PACKAGE_ROOT = Path(natural_set.__file__).resolve().parents[1]
# The only modules allowed to name the natural set: its loader, its evaluation, and the CLI that
# prints that evaluation. Training code (corpus, templates, train, model...) must never.
ALLOWED_READERS = {
    "understanding/natural_set.py",
    "understanding/evaluate_natural.py",
    "understanding/cli.py",
}
_NAMES = re.compile(r"natural_test|natural_set|evaluate_natural")
# The labels the set was written with: the engine's classes when it was frozen, plus the
# dedicated product-question label (see NATURAL_TEST.md).
LABELS_AT_FREEZE = frozenset(
    {
        *("cancel_order", "cancel_subscription", "change_order", "change_shipping_address"),
        *("check_cancellation_fee", "check_invoice", "check_payment_methods"),
        *("check_refund_policy", "complaint", "confirm", "contact_customer_service"),
        *("contact_human_agent", "create_account", "decline", "delete_account"),
        *("delivery_options", "delivery_period", "edit_account", "exchange_items"),
        *("get_invoice", "get_refund", "greeting", "modify_order_items"),
        *("modify_order_payment", "newsletter_subscription", "out_of_scope"),
        *("pause_subscription", "payment_issue", "place_order", "recover_password"),
        *("registration_problems", "return_items", "review", "set_up_shipping_address"),
        *("switch_account", "thanks", "track_order", "track_refund", PRODUCT_QUESTION),
    }
)


def _file_bytes() -> bytes:
    return resources.files(DATA_PACKAGE).joinpath(NATURAL_FILE).read_bytes()


def test_the_file_is_the_frozen_one_recorded_in_its_readme() -> None:
    readme = resources.files(DATA_PACKAGE).joinpath("data/NATURAL_TEST.md").read_text("utf-8")
    recorded = re.search(r"SHA-256 of `natural_test.jsonl`: `([0-9a-f]{64})`", readme)
    assert recorded, "NATURAL_TEST.md must record the file's SHA-256"
    # A change to the set must be deliberate (see the README's rule): update both together.
    assert hashlib.sha256(_file_bytes()).hexdigest() == recorded.group(1)


def test_the_set_covers_every_intent_and_out_of_scope() -> None:
    examples = load_natural_set()
    assert len(examples) >= 1500
    counts = Counter(e.intent for e in examples)
    # Every class the engine learns has messages (a new intent needs new, unseen messages).
    missing = {e.intent for e in build_corpus()} - set(counts)
    assert not missing, f"intents with no natural-test messages: {sorted(missing)}"
    assert set(counts) == LABELS_AT_FREEZE  # no misspelt label slipped in
    assert min(counts.values()) >= 15, counts.most_common()[-3:]
    assert counts[OUT_OF_SCOPE] >= 300
    for e in examples:
        assert set(e.intents) <= LABELS_AT_FREEZE, e.id
        assert e.intents[0] == e.intent and len(set(e.intents)) == len(e.intents), e.id
        assert OUT_OF_SCOPE not in e.intents[1:], e.id
    assert sum(len(e.intents) > 1 for e in examples) >= 50
    # Every CLINC topic named is a real CLINC intent, and only out-of-scope messages name one.
    clinc_labels = {label for rows in clinc_raw().values() for _, label in rows}
    named = {e.clinc_intent for e in examples if e.clinc_intent}
    assert named <= clinc_labels
    assert all(e.intent == OUT_OF_SCOPE for e in examples if e.clinc_intent)
    # Both order-number styles the stores print, and messages that give an email.
    ids = [i for e in examples for i in e.order_ids]
    assert sum(i.startswith("#W") for i in ids) >= 40
    assert sum(not i.startswith("#W") for i in ids) >= 100
    assert sum(bool(e.emails) for e in examples) >= 30


def test_entities_recorded_are_the_ones_written() -> None:
    for e in load_natural_set():
        digits = re.sub(r"\D", "", e.text)
        for oid in e.order_ids:
            assert re.sub(r"\D", "", oid) in digits, e.id
        for email in e.emails:
            assert email in e.text.lower(), e.id


def test_no_natural_text_appears_in_the_training_corpus() -> None:
    training = {normalise(e.text) for e in build_corpus()}
    # Bitext's entity file is not trained on but is Bitext text all the same: keep clear of it.
    training |= {normalise(c.text) for c in entity_cases()}
    training |= {normalise(t) for t in entity_free_messages()}
    natural = {normalise(e.text): e.id for e in load_natural_set()}
    leaked = sorted(natural[t] for t in natural.keys() & training)
    assert not leaked, f"natural-set messages found in training data: {leaked}"
    # Duplicates inside the set would weigh one message twice.
    assert len(natural) == len(load_natural_set())


def test_normalise_makes_near_copies_equal() -> None:
    # The guard above compares in this form: case, spacing and order numbers do not hide a copy.
    assert normalise("Where's  my order\n#W1234567?") == normalise("where's my order #W7654321?")
    assert normalise("cancel order 1001") != normalise("cancel my order 1001")


def test_training_code_never_names_the_natural_set() -> None:
    offenders = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        rel = path.relative_to(PACKAGE_ROOT).as_posix()
        if rel not in ALLOWED_READERS and _NAMES.search(path.read_text("utf-8")):
            offenders.append(rel)
    assert not offenders, f"only the evaluation may read the natural set: {offenders}"
    assert not {f"understanding/{m}" for m in train._CODE_MODULES} & ALLOWED_READERS
    assert not any("natural" in name for name in train._DATA_FILES)


_opened: list[str] | None = None
_hooked = False


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _opened is not None and args:
        _opened.append(str(args[0]))


@contextmanager
def _recording_opens() -> Iterator[list[str]]:
    """Every file opened by this process inside the block (via an audit hook, which sees opens
    however they are made: open(), pathlib, importlib.resources)."""
    global _opened, _hooked
    if not _hooked:
        # Audit hooks cannot be removed; this one records only inside this block.
        sys.addaudithook(_audit)
        _hooked = True
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


def test_building_the_training_data_never_opens_the_natural_set() -> None:
    with _recording_opens() as opened:
        build_corpus()
        templates.generate()
        train.fingerprint()
    assert not [p for p in opened if p.endswith("natural_test.jsonl")]
    # The recorder works: reading the set through its loader is seen.
    with _recording_opens() as opened:
        natural_set._load.__wrapped__()
    assert any(p.endswith("natural_test.jsonl") for p in opened)


def test_a_malformed_line_is_a_clear_error() -> None:
    good = (
        '{"id": "x1", "text": "hi", "intent": "greeting", "intents": ["greeting"], '
        '"entities": {"order_ids": [], "emails": [], "address": false}, "register": [], '
        '"clinc_intent": null}'
    )
    assert parse_lines([good])[0].intent == "greeting"
    with pytest.raises(NaturalSetError, match=r"test:1: not JSON"):
        parse_lines(["{nope"], source="test")
    with pytest.raises(NaturalSetError, match="must start with the primary intent"):
        parse_lines([good.replace('"intents": ["greeting"]', '"intents": ["thanks"]')])
    with pytest.raises(NaturalSetError, match="out-of-scope messages only"):
        parse_lines([good.replace('"clinc_intent": null', '"clinc_intent": "weather"')])
    with pytest.raises(NaturalSetError, match="duplicate id x1"):
        parse_lines([good, good])
