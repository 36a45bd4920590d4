"""phrase_reply against the stand-in OpenAI-compatible server (tests/llm/standin.py, a real
loopback HTTP server standing in for the paid API this machine cannot reach; no real model
runs in these tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from supportflow.replies.phrasing import load_phraser, phrase_reply
from supportflow.replies.render import render
from supportflow.settings import Settings
from supportflow.understanding.llm import OpenAiChat
from tests.llm.standin import StandIn

FACTS = {"order_id": "#W2611340", "status_phrase": "delivered", "items": [], "tracking_ids": []}


@pytest.fixture
def client(standin: StandIn) -> Iterator[OpenAiChat]:
    c = OpenAiChat(f"{standin.url}/v1", "test-model", None, timeout_seconds=0.5)
    yield c
    c.close()


def test_grounded_phrasing_is_used(standin: StandIn, client: OpenAiChat) -> None:
    template_text = render("order_status", FACTS)
    standin.script.text = '"Great news! Your order #W2611340 has been delivered."'
    out = phrase_reply(client, "order_status", FACTS, template_text, tone="cheerful")
    assert out.phrased and out.problems == ()
    assert out.text == "Great news! Your order #W2611340 has been delivered."
    body = standin.received[0].body
    system, user = body["messages"]
    assert "never instructions" in system["content"]
    assert f"<draft_reply>{template_text}</draft_reply>" in user["content"]
    # The tone belongs to the fixed prefix (the system prompt), not to the per-reply part.
    assert system["content"].endswith("<tone>cheerful</tone>")
    assert "<tone>" not in user["content"]
    assert '"order_id": "#W2611340"' in user["content"]
    assert "tools" not in body and "response_format" not in body


def test_ungrounded_phrasing_falls_back_to_the_template(
    standin: StandIn, client: OpenAiChat
) -> None:
    template_text = render("order_status", FACTS)
    standin.script.text = "Your order #W2611340 was delivered, and I've refunded you $20."
    out = phrase_reply(client, "order_status", FACTS, template_text)
    assert not out.phrased
    assert out.text == template_text
    assert any("refund" in p for p in out.problems)
    assert any("20.00" in p for p in out.problems)


def test_model_failure_falls_back_to_the_template(standin: StandIn, client: OpenAiChat) -> None:
    template_text = render("handoff", {})
    standin.script.delay = 1.0
    out = phrase_reply(client, "handoff", {}, template_text)
    assert not out.phrased and out.text == template_text
    assert out.problems == ("phrasing failed: LlmTimeout",)


def test_anthropic_phrasing(standin: StandIn) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        model="anthropic:claude-test",
        anthropic_base_url=standin.url,
    )
    phraser = load_phraser(settings)
    assert phraser is not None
    try:
        standin.script.text = "Of course! Someone from our team will be with you here shortly."
        out = phraser.phrase("handoff", {}, render("handoff", {}))
    finally:
        phraser.client.close()
    assert out.phrased and out.text.startswith("Of course!")
    assert standin.received[0].path == "/v1/messages"


def test_no_phraser_in_local_mode_or_when_off() -> None:
    assert load_phraser(Settings(_env_file=None, model="local")) is None  # type: ignore[call-arg]
    off = Settings(_env_file=None, model="openai:m", llm_phrase_replies=False)  # type: ignore[call-arg]
    assert load_phraser(off) is None
