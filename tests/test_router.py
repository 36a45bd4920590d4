"""The deterministic decisions of a turn (pure functions, no servers needed)."""

from __future__ import annotations

from supportflow.procedures.router import MAX_CLARIFICATIONS, decide, effective_intent
from supportflow.understanding.contract import Entities, Understanding


def u(intent: str, **kw: object) -> Understanding:
    return Understanding(intent=intent, confidence=0.9, **kw)  # type: ignore[arg-type]


def test_status_needs_identity_first_and_keeps_the_order_id() -> None:
    d = decide(
        u("track_order", entities=Entities(order_ids=["#W1"])),
        "track_order",
        identified=False,
        last_order_id=None,
    )
    assert (d.template, d.order_id) == ("ask_identity", "#W1")
    d = decide(u("track_order"), "track_order", identified=True, last_order_id=None)
    assert d.template == "ask_order_id"
    d = decide(u("track_order"), "track_order", identified=True, last_order_id="#W2")
    assert (d.action, d.order_id) == ("order_status", "#W2")


def test_a_message_supplying_the_asked_detail_continues_the_request() -> None:
    supplied = u("out_of_scope", entities=Entities(emails=["a@b.example"]))
    assert effective_intent(supplied, awaiting="identity", last_intent="track_order") == (
        "track_order"
    )
    # Nothing was asked: the message stands on its own.
    assert effective_intent(supplied, awaiting=None, last_intent="track_order") == "out_of_scope"
    # A clear new request is not swallowed by the pending one.
    new = u("cancel_order", entities=Entities(order_ids=["#W3"]))
    assert effective_intent(new, awaiting="identity", last_intent="track_order") == "cancel_order"


def test_repeated_low_confidence_goes_to_a_human() -> None:
    unclear = u("get_refund", needs_clarification=True)
    for asked in range(MAX_CLARIFICATIONS):
        d = decide(unclear, "get_refund", identified=True, last_order_id=None, clarifications=asked)
        assert d.template == "clarify"
    d = decide(
        unclear,
        "get_refund",
        identified=True,
        last_order_id=None,
        clarifications=MAX_CLARIFICATIONS,
    )
    assert (d.action, d.template) == ("handoff", "handoff")


def test_anger_or_asking_for_a_person_hands_over() -> None:
    assert (
        decide(
            u("track_order", needs_human=True), "track_order", identified=True, last_order_id="#W1"
        ).action
        == "handoff"
    )
    assert (
        decide(
            u("contact_human_agent"), "contact_human_agent", identified=False, last_order_id=None
        ).action
        == "handoff"
    )


def test_requests_not_yet_automated_open_a_case() -> None:
    d = decide(u("cancel_order"), "cancel_order", identified=True, last_order_id=None)
    assert (d.action, d.template, d.opens_case) == ("open_case", "not_yet", True)


def test_questions_about_store_rules_go_to_the_knowledge_base() -> None:
    d = decide(
        u("check_payment_methods"), "check_payment_methods", identified=False, last_order_id=None
    )
    assert (d.action, d.template) == ("knowledge", "kb_unknown")
    d = decide(u("out_of_scope"), "out_of_scope", identified=False, last_order_id=None)
    assert (d.action, d.template) == ("knowledge", "out_of_scope")


def test_yes_to_the_offer_of_a_person_hands_over() -> None:
    assert effective_intent(u("confirm"), awaiting="handoff_offer", last_intent="x") == (
        "contact_human_agent"
    )
    assert effective_intent(u("confirm"), awaiting=None, last_intent="x") == "confirm"
