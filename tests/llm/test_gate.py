"""The model's self-reported confidence is not trusted: the LLM's reading is gated by the local
engine's calibrated reading of the same text (understanding/llm/gate.py).

The engine-level tests run against tests/llm/standin.py (a real loopback HTTP server speaking
the OpenAI wire format; no real model) beside the real local engine.
"""

from __future__ import annotations

import pytest

from supportflow.understanding.contract import Context, Understanding
from supportflow.understanding.llm import known_intents
from supportflow.understanding.llm.gate import UNCALIBRATED, Verdict, judge
from supportflow.understanding.local import LocalEngine
from tests.llm.helpers import answer, make_engine
from tests.llm.standin import StandIn

LABELS = frozenset(known_intents())


def local_reading(intent: str, confidence: float, clarify: bool = False) -> Understanding:
    return Understanding(intent=intent, confidence=confidence, needs_clarification=clarify)


@pytest.mark.parametrize(
    ("local", "llm", "expected"),
    [
        # Agreement acts, even where the local engine alone would have asked.
        (local_reading("track_order", 0.97), ("track_order", 1.0), ("track_order", 0.97, False)),
        (
            local_reading("track_order", 0.6, True),
            ("track_order", 0.9),
            ("track_order", 0.6, False),
        ),
        # A sure local reading disputed by the model: ask, act on neither.
        (
            local_reading("modify_order_items", 0.99),
            ("track_order", 1.0),
            ("modify_order_items", 0.99, True),
        ),
        # The local engine unsure, or out of scope (its weak spot on natural text): the model's.
        (
            local_reading("out_of_scope", 0.52),
            ("track_order", 1.0),
            ("track_order", UNCALIBRATED, False),
        ),
        (
            local_reading("get_refund", 0.6, True),
            ("cancel_order", 0.9),
            ("cancel_order", UNCALIBRATED, False),
        ),
        # The model's own doubt still asks; it may lower, never raise.
        (
            local_reading("out_of_scope", 0.52),
            ("track_order", 0.3),
            ("track_order", UNCALIBRATED, True),
        ),
        # A label outside the list never passes, however sure the model says it is.
        (
            local_reading("out_of_scope", 0.8),
            ("where_is_my_order", 1.0),
            ("out_of_scope", 0.8, False),
        ),
        (local_reading("get_refund", 0.6, True), ("refund", 0.99), ("get_refund", 0.6, True)),
    ],
)
def test_judge(
    local: Understanding, llm: tuple[str, float], expected: tuple[str, float, bool]
) -> None:
    v = judge(local, llm[0], llm[1], LABELS)
    assert isinstance(v, Verdict)
    assert (v.intent, v.confidence, v.needs_clarification) == expected


# Twelve of a hundred answers outside the label list, as measured with a real small model.
INVENTED = [
    "order_tracking",
    "where_is_my_order",
    "shipping_status",
    "refund_request",
    "product_inquiry",
    "size_availability",
    "emi_options",
    "pincode_check",
    "delivery_delay",
    "address_change",
    "greeting_email",
    "TRACK ORDER",
]
MESSAGES = [
    "where is my order",
    "has my order shipped",
    "my order hasn't arrived yet",
    "I didn't receive my order",
    "pin code 851133",
    "No cost emi",
    "25 days and nothing",
    "package says delivered but not here",
    "Hi, my email is ann.lee@example.com",
    "do you have this in size 11?",
]


def test_invented_labels_never_pass(standin: StandIn, local: LocalEngine) -> None:
    eng = make_engine(standin, llm_structured_output="tools")
    labels = set(known_intents())
    results = []
    try:
        for i in range(100):
            text = MESSAGES[i % len(MESSAGES)]
            invented = INVENTED[i // 8] if i % 8 == 0 and i // 8 < len(INVENTED) else None
            standin.script.answer = answer(intent=invented or "track_order", confidence=1.0)
            results.append((text, invented, eng.understand(text, Context())))
    finally:
        eng.close()
    made_up = [(t, u) for t, inv, u in results if inv is not None]
    assert len(made_up) == 12 and eng.outcomes["invented"] == 12
    assert all(u.intent in labels for _, _, u in results)
    for text, u in made_up:
        # The local engine's reading instead, marked.
        assert u.intent == local.understand(text, Context()).intent
        assert "llm_invented" in u.flags


def test_a_sure_local_reading_disputed_by_the_model_asks(
    standin: StandIn, local: LocalEngine
) -> None:
    text = "I want to cancel my order"
    mine = local.understand(text, Context())
    assert mine.intent == "cancel_order" and not mine.needs_clarification, "precondition"
    standin.script.answer = answer(intent="track_order", confidence=1.0)
    eng = make_engine(standin, llm_structured_output="tools")
    try:
        u = eng.understand(text, Context())
    finally:
        eng.close()
    assert (u.intent, u.needs_clarification) == ("cancel_order", True)
    assert "llm_disputed" in u.flags and u.engine == "openai:test-model"


def test_the_model_reads_what_the_local_engine_sends_out_of_scope(
    standin: StandIn, local: LocalEngine
) -> None:
    # The first text the local engine would not act on (the last is surely out of scope).
    candidates = ["where is my order", "25 days and nothing", "book me a flight to Paris"]
    text = next(
        t
        for t in candidates
        if (m := local.understand(t, Context())).intent == "out_of_scope" or m.needs_clarification
    )
    standin.script.answer = answer(intent="track_order", confidence=1.0)
    eng = make_engine(standin, llm_structured_output="tools")
    try:
        u = eng.understand(text, Context())
    finally:
        eng.close()
    assert (u.intent, u.needs_clarification, u.confidence) == ("track_order", False, UNCALIBRATED)
    assert "llm_only" in u.flags


def test_agreement_keeps_the_local_engines_calibrated_confidence(
    standin: StandIn, local: LocalEngine
) -> None:
    text = "I want my money back for order #W2611340"
    mine = local.understand(text, Context())
    standin.script.answer = answer(intent=mine.intent, confidence=1.0)
    eng = make_engine(standin, llm_structured_output="tools")
    try:
        u = eng.understand(text, Context())
    finally:
        eng.close()
    assert (u.intent, u.confidence) == (mine.intent, mine.confidence)
    assert "llm_agreed" in u.flags and u.entities.order_ids == ["#W2611340"]
