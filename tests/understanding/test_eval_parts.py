"""The natural report's figures for messages with several requests: "all requests taken" and
"spurious parts", on a tiny synthetic set read by a scripted engine (worked out by hand)."""

from __future__ import annotations

from supportflow.understanding.catalogue import Catalogue
from supportflow.understanding.contract import Context, RequestPart, Understanding
from supportflow.understanding.corpus import OUT_OF_SCOPE, Example
from supportflow.understanding.evaluate_natural import (
    all_requests_taken,
    evaluate_natural,
    spurious_parts,
)
from supportflow.understanding.natural_set import NaturalExample
from supportflow.understanding.splits import Splits


def _ex(text: str, *intents: str) -> NaturalExample:
    return NaturalExample(
        id=text,
        text=text,
        intent=intents[0],
        intents=intents,
        order_ids=(),
        emails=(),
        address=False,
        register=(),
        clinc_intent=None,
    )


def _u(*intents: str) -> Understanding:
    """One intent: a single request; several: that many parts, the first on top."""
    parts = [
        RequestPart(text=i, understanding=Understanding(intent=i, confidence=0.9)) for i in intents
    ]
    return Understanding(intent=intents[0], confidence=0.9, parts=parts if len(intents) > 1 else [])


class ScriptedEngine:
    def __init__(self, script: dict[str, Understanding]) -> None:
        self.script = script

    def understand(
        self, message: str, context: Context, catalogue: Catalogue | None = None
    ) -> Understanding:
        return self.script[message]


def test_all_requests_taken_needs_every_request_in_order() -> None:
    gold = _ex("m", "cancel_order", "change_shipping_address")
    assert all_requests_taken(_u("cancel_order", "change_shipping_address"), gold)
    # An extra part (a leading yes) is allowed; a missing or swapped request is not.
    assert all_requests_taken(_u("confirm", "cancel_order", "change_shipping_address"), gold)
    assert not all_requests_taken(_u("change_shipping_address", "cancel_order"), gold)
    assert not all_requests_taken(_u("cancel_order"), gold)
    assert not all_requests_taken(_u("cancel_order", "track_order"), gold)


def test_spurious_parts_are_splits_of_one_request() -> None:
    assert spurious_parts(_u("cancel_order", "get_refund"), _ex("m", "cancel_order"))
    assert not spurious_parts(_u("cancel_order"), _ex("m", "cancel_order"))
    assert not spurious_parts(
        _u("cancel_order", "get_refund"), _ex("m", "cancel_order", "get_refund")
    )


def test_natural_report_counts_parts() -> None:
    gold = [
        _ex("a", "cancel_order", "change_shipping_address"),  # both taken
        _ex("b", "track_order", "recover_password", "edit_account"),  # one missing
        _ex("c", "return_items", "get_invoice"),  # not split at all
        _ex("d", "track_order"),  # fine
        _ex("e", "cancel_order"),  # split into two: spurious
        _ex("f", OUT_OF_SCOPE),  # fine
    ]
    engine = ScriptedEngine(
        {
            "a": _u("cancel_order", "change_shipping_address"),
            "b": _u("track_order", "edit_account"),
            "c": _u("return_items"),
            "d": _u("track_order"),
            "e": _u("cancel_order", "get_refund"),
            "f": _u(OUT_OF_SCOPE),
        }
    )
    splits = Splits(
        train=[Example("w", OUT_OF_SCOPE, "clinc:weather", "clinc_oos")],
        calib=[],
        test=[Example("f", OUT_OF_SCOPE, "clinc:flip_coin", "clinc_oos")],
    )
    labels = frozenset(
        {
            "cancel_order",
            "change_shipping_address",
            "track_order",
            "recover_password",
            "edit_account",
            "return_items",
            "get_invoice",
            OUT_OF_SCOPE,
        }
    )
    r = evaluate_natural(engine, gold, splits, labels)
    assert r.multi_size == 3
    assert r.multi_all_taken == 1 / 3
    assert r.single_spurious == 1 / 3
