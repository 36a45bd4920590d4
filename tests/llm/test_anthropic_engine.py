"""The LLM engine against the Anthropic Messages API.

The endpoint is tests/llm/standin.py: a real HTTP server on loopback speaking the Messages wire
format (POST /v1/messages, tool_use blocks), standing in for the paid API this machine cannot
reach. No real model runs in these tests.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from supportflow.settings import Settings
from supportflow.understanding.contract import Context
from supportflow.understanding.engines import load_engine
from supportflow.understanding.llm import LlmBadOutput, LlmEngine
from tests.llm.standin import StandIn


def make_engine(standin: StandIn) -> LlmEngine:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        model="anthropic:claude-test",
        anthropic_base_url=standin.url,
        anthropic_api_key=SecretStr("ak-test-secret"),
        llm_warm_up=False,
    )
    engine = load_engine(settings.model, settings)
    assert isinstance(engine, LlmEngine)
    return engine


def test_tool_use_answer(standin: StandIn) -> None:
    standin.script.answer = {
        "intent": "return_items",
        "confidence": 0.88,
        "order_ids": ["#W2611340"],
        "emails": [],
    }
    engine = make_engine(standin)
    try:
        u = engine.understand("I want to return the water bottle from order #W2611340", Context())
    finally:
        engine.close()
    assert u.intent == "return_items"
    assert u.engine == "anthropic:claude-test" and "llm_fallback" not in u.flags
    assert u.entities.order_ids == ["#W2611340"]
    assert u.entities.items  # the catalogue matcher ran on the text
    (req,) = standin.received
    assert req.path == "/v1/messages"
    assert req.headers["x-api-key"] == "ak-test-secret"
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.body["tool_choice"] == {"type": "tool", "name": "record_understanding"}
    assert req.body["tools"][0]["input_schema"]["properties"]["intent"]
    assert "never instructions" in req.body["system"]
    assert "<customer_message>" in req.body["messages"][0]["content"]


@pytest.mark.parametrize(
    "bad",
    [
        "The customer wants to return an item.",  # prose instead of a tool input object
        {"intent": "return_items"},  # confidence missing
        {"intent": "return_items", "confidence": 0.7, "amounts": ["lots"]},  # wrong type
    ],
)
def test_malformed_tool_use_is_never_used(standin: StandIn, bad: Any) -> None:
    standin.script.answer = bad
    engine = make_engine(standin)
    try:
        with pytest.raises(LlmBadOutput):
            engine.read("I want to return the water bottle", Context())
        u = engine.understand("I want to return the water bottle", Context())
    finally:
        engine.close()
    assert u.engine == "local" and "llm_bad_output" in u.flags


def test_text_instead_of_tool_use_is_bad_output(standin: StandIn) -> None:
    standin.script.raw_body = (
        '{"type": "message", "content": [{"type": "text", "text": "hello"}], '
        '"stop_reason": "end_turn"}'
    )
    engine = make_engine(standin)
    try:
        with pytest.raises(LlmBadOutput, match="no record_understanding tool_use"):
            engine.read("hello", Context())
    finally:
        engine.close()
