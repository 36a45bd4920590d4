"""The words for an order's status belong to the replies: a procedure states the store's
status and the composer words it, for the shipped templates, a merchant's own and the
phraser alike (the phraser is the stand-in LLM server, tests/llm/standin.py)."""

from __future__ import annotations

import json

import pytest

from supportflow.activities.ai import AiActivities
from supportflow.activities.contract import ComposeInput
from supportflow.replies.phrasing import ReplyPhraser
from supportflow.replies.render import render
from supportflow.replies.templates import STATUS_PHRASES, reply_facts
from supportflow.understanding.catalogue import Catalogue
from supportflow.understanding.contract import Context, Understanding
from supportflow.understanding.llm import OpenAiChat
from tests.llm.standin import StandIn

BARE = {"order_id": "#W2611340", "status": "processed", "items": [], "tracking_ids": []}


class _Unused:
    """compose_reply reads no message and no catalogue."""

    def understand(self, message: str, context: Context, catalogue: object = None) -> Understanding:
        raise AssertionError("not called")

    def catalogue_for(self, tenant_id: str) -> Catalogue:
        raise AssertionError("not called")


@pytest.mark.parametrize(
    ("status", "words"),
    [(status, words) for status, words in STATUS_PHRASES.items()]
    # A status we have no words for is said as the store says it.
    + [("on hold", "on hold")],
)
def test_the_composer_words_the_status(status: str, words: str) -> None:
    facts = BARE | {"status": status}
    assert render("order_status", facts) == f"Order #W2611340 is {words}."
    assert render("order_status", facts) == render("order_status", facts | {"status_phrase": words})


def test_words_already_given_and_facts_without_a_status_are_left_alone() -> None:
    given = BARE | {"status_phrase": "on its way to you"}
    assert reply_facts(given) is given
    assert render("order_status", given) == "Order #W2611340 is on its way to you."
    assert reply_facts({"order_id": "#W2611340"}) == {"order_id": "#W2611340"}


def test_a_merchant_template_gets_the_words_too() -> None:
    mine = {"order_status": "Your order {{ order_id }}: {{ status_phrase }}!"}
    assert render("order_status", BARE, mine) == "Your order #W2611340: processed and on its way!"


def test_the_phraser_is_given_the_worded_facts(standin: StandIn) -> None:
    client = OpenAiChat(f"{standin.url}/v1", "test-model", None, timeout_seconds=5)
    try:
        ai = AiActivities(_Unused(), ReplyPhraser(client), catalogues=_Unused())
        standin.script.text = "Good news: order #W2611340 is processed and on its way."
        out = ai.compose_reply(ComposeInput(tenant_id="t1", template="order_status", facts=BARE))
    finally:
        client.close()
    assert out.text == "Good news: order #W2611340 is processed and on its way."
    user = standin.received[0].body["messages"][1]["content"]
    facts = json.loads(user.split("<facts>")[1].split("</facts>")[0])
    assert facts["status_phrase"] == "processed and on its way"
    assert "<draft_reply>Order #W2611340 is processed and on its way.</draft_reply>" in user
