"""What real local model servers do, and the engine copes with (issue 11 item 6): a server that
refuses a structured-output mode, error bodies that are the only clue, models slower than a
customer can wait, streaming, and prompt caches.

Every test here runs against tests/llm/standin.py, a real HTTP server on loopback that speaks
the OpenAI wire format and is scripted to behave as the servers were measured to (its
``LLAMA_CPP_PYTHON`` profile refuses json_schema with HTTP 500, as llama-cpp-python's server
does). No real model runs here: this machine has none and no network.
"""

from __future__ import annotations

import logging
import time

import pytest

from supportflow.replies.phrasing import ReplyPhraser, load_phraser
from supportflow.replies.render import render
from supportflow.understanding.contract import Context
from supportflow.understanding.engines import load_engine
from supportflow.understanding.llm import LlmEngine, LlmRejected, LlmUnavailable, OpenAiChat
from supportflow.understanding.local import LocalEngine
from tests.llm.helpers import answer, make_engine, settings_for
from tests.llm.standin import LLAMA_CPP_PYTHON, StandIn, structured_mode

UNSUPPORTED_400 = '{"error": {"message": "response_format is not supported by this server"}}'


def modes(standin: StandIn) -> list[str | None]:
    return [structured_mode(r.body) for r in standin.received]


# --- structured-output mode -----------------------------------------------------------------


def test_auto_settles_on_json_object_with_llama_cpp_python(
    standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    standin.script.refuses = LLAMA_CPP_PYTHON
    standin.script.answer = answer(intent="track_order")
    eng = make_engine(standin)  # llm_structured_output defaults to auto
    try:
        with caplog.at_level(logging.WARNING):
            first = eng.understand("has my order shipped", Context())
        second = eng.understand("where is my package", Context())
    finally:
        eng.close()
    assert "llm_fallback" not in first.flags and "llm_fallback" not in second.flags
    # One refusal, then json_object for this message and every later one.
    assert modes(standin) == ["json_schema", "json_object", "json_object"]
    client = eng.client
    assert isinstance(client, OpenAiChat) and client.mode == "json_object"
    # The 500's body was kept: status and the server's reason are in the log.
    assert "HTTP 500" in caplog.text and "Input should be 'text' or 'json_object'" in caplog.text
    assert "using json_object from now on" in caplog.text


def test_auto_falls_through_to_forced_tool_calls(standin: StandIn) -> None:
    standin.script.refuses = {
        "json_schema": (400, UNSUPPORTED_400),
        "json_object": (400, UNSUPPORTED_400),
    }
    standin.script.answer = answer()
    eng = make_engine(standin)
    try:
        eng.read("where is my order", Context())
        eng.read("where is my order", Context())
    finally:
        eng.close()
    assert modes(standin) == ["json_schema", "json_object", "tools", "tools"]


def test_a_fixed_mode_is_never_changed(standin: StandIn, local: LocalEngine) -> None:
    standin.script.refuses = LLAMA_CPP_PYTHON
    eng = make_engine(standin, llm_structured_output="json_schema")
    try:
        with pytest.raises(LlmUnavailable) as err:
            eng.read("has my order shipped", Context())
        assert err.value.status == 500 and "json_object" in err.value.detail
        u = eng.understand("has my order shipped", Context())
    finally:
        eng.close()
    assert modes(standin) == ["json_schema", "json_schema"]
    # The turn still gets an answer: the local engine's, marked.
    assert u.intent == local.understand("has my order shipped", Context()).intent
    assert {"llm_fallback", "llm_unavailable"} <= set(u.flags)


def test_a_mode_that_worked_is_kept_through_server_errors(standin: StandIn) -> None:
    standin.script.answer = answer()
    eng = make_engine(standin)
    try:
        eng.read("where is my order", Context())
        standin.script.status = 500
        standin.script.error_body = '{"error": {"message": "response_format: out of memory"}}'
        with pytest.raises(LlmUnavailable):
            eng.read("where is my order", Context())
    finally:
        eng.close()
    assert modes(standin) == ["json_schema", "json_schema"]


def test_a_refused_key_is_not_a_mode_problem(standin: StandIn) -> None:
    standin.script.status = 401
    standin.script.error_body = '{"error": {"message": "invalid api key for response_format"}}'
    eng = make_engine(standin)
    try:
        with pytest.raises(LlmRejected):
            eng.read("where is my order", Context())
    finally:
        eng.close()
    assert modes(standin) == ["json_schema"]


def test_when_no_mode_works_the_next_call_starts_over(standin: StandIn) -> None:
    refusal = (400, '{"error": {"message": "tools and response_format are not supported"}}')
    standin.script.refuses = {"json_schema": refusal, "json_object": refusal, "tools": refusal}
    eng = make_engine(standin)
    try:
        with pytest.raises(LlmRejected):
            eng.read("where is my order", Context())
        client = eng.client
        assert isinstance(client, OpenAiChat) and client.mode == "json_schema"
    finally:
        eng.close()
    assert modes(standin) == ["json_schema", "json_object", "tools"]


# --- error bodies -----------------------------------------------------------------------------

SECRET_TEXT = "please ship to Ann Lee at 12 Baker Street, ann.lee@example.com, order 2611340"


def test_error_bodies_are_kept_without_the_customers_text(
    standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # A server that echoes the request in its error, as validation errors often do.
    echo = (
        '{"error": {"message": "context window exceeded (4096 tokens) for input: '
        + SECRET_TEXT.upper().replace("ANN", "Ann")
        + " / "
        + SECRET_TEXT[:30]
        + '"}}'
    )
    standin.script.status = 500
    standin.script.error_body = echo
    eng = make_engine(standin, llm_structured_output="tools")
    try:
        with caplog.at_level(logging.INFO), pytest.raises(LlmUnavailable) as err:
            eng.read(SECRET_TEXT, Context())
        u = eng.understand(SECRET_TEXT, Context())
    finally:
        eng.close()
    message = str(err.value)
    assert "HTTP 500" in message and "context window exceeded (4096 tokens)" in message
    for private in ("Baker", "BAKER", "ann.lee", "2611340", "please ship to"):
        assert private not in message and private not in caplog.text
    assert "llm_fallback" in u.flags


# --- budget, fallback and abandoned requests -------------------------------------------------


def test_a_slow_model_costs_the_turn_its_budget_only_and_is_hung_up_on(
    standin: StandIn, local: LocalEngine
) -> None:
    standin.script.answer = answer(intent="track_order")
    standin.script.delay = 20.0  # an uncached prompt on a small CPU model (issue 11)
    eng = make_engine(standin, llm_turn_budget_seconds=0.5)
    try:
        started = time.monotonic()
        u = eng.understand("package says delivered but not here", Context())
        waited = time.monotonic() - started
    finally:
        eng.close()
    assert waited < 2.0
    expected = local.understand("package says delivered but not here", Context())
    assert (u.intent, u.engine) == (expected.intent, "local")
    assert {"llm_fallback", "llm_timeout"} <= set(u.flags)
    assert eng.outcomes["fallback"] == 1
    # The request was closed, not left running: the server saw its client go.
    assert standin.wait_for_disconnects(1)


def test_a_streamed_answer_is_put_back_together(standin: StandIn) -> None:
    standin.script.answer = answer(intent="cancel_order", order_ids=["#W2611340"])
    for mode in ("tools", "json_object", "json_schema"):
        eng = make_engine(standin, llm_stream=True, llm_structured_output=mode)
        try:
            reading = eng.read("cancel order #W2611340", Context())
        finally:
            eng.close()
        assert (reading.intent, reading.order_ids) == ("cancel_order", ["#W2611340"])
    assert all(r.body["stream"] is True for r in standin.received)


def test_a_streamed_phrasing_is_put_back_together(standin: StandIn) -> None:
    standin.script.text = "Of course! Someone from our team will be with you here shortly."
    phraser = load_phraser(settings_for(standin, llm_stream=True))
    assert phraser is not None
    try:
        out = phraser.phrase("handoff", {}, render("handoff", {}))
    finally:
        phraser.client.close()
    assert out.phrased and out.text == standin.script.text
    assert standin.received[0].body["stream"] is True


def test_a_stream_past_the_budget_is_hung_up_on(standin: StandIn) -> None:
    standin.script.answer = answer()
    standin.script.stream_gap = 0.1  # ~40 events: about 4 s, a model generating slowly
    eng = make_engine(
        standin, llm_stream=True, llm_structured_output="tools", llm_turn_budget_seconds=0.5
    )
    try:
        started = time.monotonic()
        u = eng.understand("where is my order", Context())
        assert time.monotonic() - started < 1.5
    finally:
        eng.close()
    assert "llm_timeout" in u.flags
    assert standin.wait_for_disconnects(1)


def test_phrasing_keeps_to_the_budget_and_hangs_up(standin: StandIn) -> None:
    standin.script.text = "Someone will be with you shortly."
    standin.script.delay = 20.0
    phraser = load_phraser(settings_for(standin, llm_turn_budget_seconds=0.3))
    assert isinstance(phraser, ReplyPhraser)
    try:
        started = time.monotonic()
        out = phraser.phrase("handoff", {}, render("handoff", {}))
        assert time.monotonic() - started < 1.5
    finally:
        phraser.client.close()
    assert not out.phrased and out.text == render("handoff", {})
    assert standin.wait_for_disconnects(1)


# --- warm-up and prompt caches ----------------------------------------------------------------


def test_warm_up_settles_the_mode_before_the_first_customer(standin: StandIn) -> None:
    standin.script.refuses = LLAMA_CPP_PYTHON
    standin.script.answer = answer(intent="greeting")
    settings = settings_for(standin, llm_warm_up=True)
    eng = load_engine(settings.model, settings)
    assert isinstance(eng, LlmEngine)
    try:
        assert eng._warm_up is not None
        eng._warm_up.join(timeout=5)
        # The warm-up carried no customer's text.
        warm = [r.body["messages"][1]["content"] for r in standin.received]
        assert len(warm) == 2 and all("\nhello\n" in w for w in warm)
        standin.received.clear()
        standin.script.answer = answer(intent="track_order")
        eng.understand("where is my order", Context())
    finally:
        eng.close()
    assert modes(standin) == ["json_object"]


def test_each_call_keeps_one_fixed_prompt_prefix(standin: StandIn) -> None:
    """A server's prompt cache keeps a prefix: the system prompt (and the tool or schema) must
    be the same for every message, and phrasing's must be its own, equally fixed."""
    standin.script.answer = answer()
    eng = make_engine(standin, llm_structured_output="tools")
    phraser = load_phraser(settings_for(standin))
    assert phraser is not None
    try:
        eng.understand("where is my order #W2611340", Context())
        eng.understand("cancel it", Context(awaiting="confirm", last_intent="cancel_order"))
        standin.script.text = "Your order #W2611340 has been delivered."
        facts = {
            "order_id": "#W2611340",
            "status_phrase": "delivered",
            "items": [],
            "tracking_ids": [],
        }
        phraser.phrase("order_status", facts, render("order_status", facts))
        phraser.phrase("handoff", {}, render("handoff", {}))
    finally:
        eng.close()
        phraser.client.close()
    u1, u2, p1, p2 = (r.body for r in standin.received)
    assert u1["messages"][0] == u2["messages"][0] and u1["tools"] == u2["tools"]
    assert u1["messages"][1] != u2["messages"][1]
    assert p1["messages"][0] == p2["messages"][0] and p1["messages"][1] != p2["messages"][1]
    assert p1["messages"][0] != u1["messages"][0]
    # Nothing of a message or a reply is in either fixed prefix.
    for prefix in (u1["messages"][0]["content"], p1["messages"][0]["content"]):
        assert "2611340" not in prefix
