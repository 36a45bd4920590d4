"""check_grounded: a phrased reply may only say what the template text and the facts say."""

from __future__ import annotations

from typing import Any

import pytest

from supportflow.replies.grounding import COMPLETED_ACTIONS_KEY, check_grounded
from supportflow.replies.render import render

FACTS: dict[str, Any] = {
    "first_name": "James",
    "intent_phrase": "check an order",
    "order_id": "#W2611340",
    "status": "processed",
    "status_phrase": "processed and on its way",
    "items": ["Water Bottle (1000ml, glass, blue)", "Office Chair (fabric, black)"],
    "tracking_ids": ["357962501027"],
}
TEMPLATE = render("order_status", FACTS)


def test_template_text_is_grounded_in_itself() -> None:
    assert check_grounded(TEMPLATE, FACTS, TEMPLATE) == []


@pytest.mark.parametrize(
    "reply",
    [
        "Good news, James! Order #W2611340 has been processed and is on its way. It has the "
        "Water Bottle and the Office Chair, and you can follow it with tracking number "
        "357962501027.",
        "Hi James, your order W2611340 is on its way (tracking: 357962501027). It contains a "
        "blue glass water bottle and a black fabric office chair. I'll keep you updated!",
        "Your order #W2611340 hasn't been cancelled: it's processed and on its way. "
        "Tracking number 357962501027.",
    ],
)
def test_faithful_phrasing_passes(reply: str) -> None:
    assert check_grounded(reply, FACTS, TEMPLATE) == []


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("I've cancelled order #W2611340 for you. Tracking: 357962501027.", "cancel"),
        ("Order #W2611340 (tracking 357962501027) has been refunded.", "refund"),
        ("Done! Your refund has been issued for #W2611340, tracking 357962501027.", "refund"),
        ("I've updated the address on order #W2611340; tracking 357962501027.", "change"),
        ("Your return has been approved for #W2611340 (tracking 357962501027).", "return"),
    ],
)
def test_invented_action_claim_is_refused(reply: str, kind: str) -> None:
    problems = check_grounded(reply, FACTS, TEMPLATE)
    assert any(p.startswith(f"claims a {kind}") for p in problems), problems


def test_claim_backed_by_a_completed_action_passes() -> None:
    facts = FACTS | {COMPLETED_ACTIONS_KEY: ["cancel"]}
    reply = "All done: order #W2611340 is cancelled. Tracking number 357962501027."
    assert check_grounded(reply, facts, TEMPLATE) == []


def test_claim_backed_by_the_order_status_passes() -> None:
    facts = FACTS | {"status": "cancelled", "status_phrase": "cancelled", "tracking_ids": []}
    template = render("order_status", facts)
    assert "cancelled" in template
    reply = "Hi James! Order #W2611340 was cancelled. It had a Water Bottle and an Office Chair."
    assert check_grounded(reply, facts, template) == []


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        ("Order #W2611341 is on its way; tracking 357962501027.", "W2611341"),
        ("Order #W2611340 is on its way; tracking 1Z999AA10123456784.", "1Z999AA10123456784"),
        ("Order #W2611340 is on its way; tracking 357962501027. Call us on 555-0199-1234.", "555"),
        ("Order #W2611340 (tracking 357962501027) will be refunded $49.99 soon.", "49.99"),
        ("Order #W2611340, tracking 357962501027. Questions? help@store.example", "help@store"),
        ("Order #W2611340, tracking 357962501027: see https://track.example/x", "https://"),
    ],
)
def test_invented_ids_amounts_emails_links_are_refused(reply: str, needle: str) -> None:
    problems = check_grounded(reply, FACTS, TEMPLATE)
    assert any(needle in p for p in problems), problems


def test_amount_in_the_facts_passes() -> None:
    facts = {"order_id": "#W2611340", "refund_amount": 536.65, COMPLETED_ACTIONS_KEY: ["refund"]}
    template = "We refunded $536.65 for order #W2611340."
    reply = "Good news: $536.65 has been refunded for your order #W2611340."
    assert check_grounded(reply, facts, template) == []
    assert any("536.65" in p for p in check_grounded("We refunded you.", facts, template))


def test_dropping_a_tracking_number_is_refused() -> None:
    problems = check_grounded("Order #W2611340 is on its way!", FACTS, TEMPLATE)
    assert any("drops '357962501027'" in p for p in problems), problems


def test_empty_and_rambling_replies_are_refused() -> None:
    assert check_grounded("  ", FACTS, TEMPLATE) == ["the phrased reply is empty"]
    long = TEMPLATE + " And more." * 200
    assert any("much longer" in p for p in check_grounded(long, FACTS, TEMPLATE))
