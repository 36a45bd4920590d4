"""The fifth batch of hand-written shopper messages (``shopper_messages_2.txt``), the dev set kept
out of training (``shopper_dev.txt``), the natural clarify gate and Shopify-style order numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from supportflow.understanding import shopper
from supportflow.understanding.calibration import (
    CLARIFY_CAP,
    choose_clarify_for_wrong_action,
)
from supportflow.understanding.contract import Context
from supportflow.understanding.corpus import OUT_OF_SCOPE, build_corpus
from supportflow.understanding.features import normalise
from supportflow.understanding.local import LocalEngine
from supportflow.understanding.train import _DATA_FILES

DEV_FILE = Path(__file__).with_name("shopper_dev.txt")


def _dev() -> list[shopper.Example]:
    return shopper.parse(DEV_FILE.read_text("utf-8").splitlines(), source=DEV_FILE.name)[0]


def test_every_shopper_file_trains_and_is_fingerprinted() -> None:
    for name in shopper.SHOPPER_FILES:
        assert name.removeprefix("data/") in _DATA_FILES
    train, val = shopper.shopper_train(), shopper.shopper_validation()
    assert len(train) >= 1400 and len(val) >= 300
    second = [e for e in train + val if ":b5" in e.family]
    assert len(second) >= 1000
    # Family names of the two files never meet, so a family stays on one side of the split.
    assert not {e.family for e in second} & {e.family for e in train + val if ":b5" not in e.family}
    # Out-of-scope near misses have training and held-out families of their own.
    assert any(e.intent == OUT_OF_SCOPE for e in train)
    assert any(e.intent == OUT_OF_SCOPE for e in val)


def test_the_dev_set_is_kept_out_of_training() -> None:
    dev = _dev()
    assert len(dev) >= 180
    # Not read by training code: only this test file names it.
    src = Path(shopper.__file__).parent
    assert not [p for p in src.rglob("*.py") if "shopper_dev" in p.read_text("utf-8")]
    trained = {e.text.lower() for e in build_corpus()}
    held = {e.text.lower() for e in shopper.shopper_validation()}
    # A few everyday phrasings ("no thanks") are also CLINC or old shopper text; they are
    # measured apart from the rest below, so they cannot flatter the figure.
    assert len([e for e in dev if e.text.lower() in trained | held]) <= 20


def test_the_engine_reads_the_dev_set(engine: LocalEngine) -> None:
    """Written before any tuning and never used to choose anything: in-scope accuracy 0.94,
    in-scope -> out_of_scope 3%, wrong action 0.6% when written (0.85, 7% and 4.5% before the
    fifth batch). Bounds leave room for retraining noise."""
    known = {e.text.lower() for e in build_corpus()} | {
        e.text.lower() for e in shopper.shopper_validation()
    }
    dev = [e for e in _dev() if e.text.lower() not in known]
    got = [engine.understand(e.text, Context()) for e in dev]
    ins = [(u, e) for u, e in zip(got, dev, strict=True) if e.intent != OUT_OF_SCOPE]
    oos = [(u, e) for u, e in zip(got, dev, strict=True) if e.intent == OUT_OF_SCOPE]
    assert np.mean([u.intent == e.intent for u, e in ins]) >= 0.90
    assert np.mean([u.intent == OUT_OF_SCOPE for u, _ in ins]) <= 0.06
    assert np.mean([u.intent == OUT_OF_SCOPE for u, _ in oos]) >= 0.90
    wrong = [
        u.intent != OUT_OF_SCOPE and not u.needs_clarification and u.intent != e.intent
        for u, e in zip(got, dev, strict=True)
    ]
    assert np.mean(wrong) <= 0.02


def test_clarify_gate_is_the_lowest_threshold_meeting_the_target() -> None:
    conf = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    wrong = np.array([False, False, False, True, False, True, False, False, False, False])
    # Acting at >= t is wrong for 2 of 10 below 0.6, 1 of 10 up to 0.8, none above 0.8.
    assert choose_clarify_for_wrong_action(conf, wrong, target=0.1) == 0.605
    assert choose_clarify_for_wrong_action(conf, wrong, target=0.0) == 0.805
    assert choose_clarify_for_wrong_action(conf, wrong, target=0.2) == 0.0
    # Never above the cap, however many confident mistakes.
    assert choose_clarify_for_wrong_action(conf, np.ones(10, dtype=bool), 0.0) == CLARIFY_CAP
    assert choose_clarify_for_wrong_action(np.array([]), np.array([], dtype=bool)) == 0.0


def test_shopify_order_numbers_normalise_like_tau_ones() -> None:
    assert normalise("where's #1150") == normalise("where's #W1234567") == "where's ordernum"
    assert normalise("# 1043 pls") == "ordernum pls"
    # A bare short number stays a number (quantities, sizes), and "#12" is too short to be one.
    assert normalise("cancel 1032") == "cancel num"
    assert "ordernum" not in normalise("item #12 on the list")


def test_near_misses_are_out_of_scope(engine: LocalEngine) -> None:
    for text in ("whats the weather like in rome", "tell me something funny please"):
        assert engine.understand(text, Context()).intent == OUT_OF_SCOPE
