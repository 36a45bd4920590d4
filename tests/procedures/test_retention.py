"""Retention on cancel in the procedure engine (sales-v1 runs), over real seed orders: one
offer before the confirmation, for the tenant's reasons only; no, insisting or a second
unclear answer goes on to the usual confirmation; yes keeps the order (a save) or becomes an
item change; never a second offer."""

from __future__ import annotations

from typing import Any

import pytest

from supportflow.policy.model import TenantPolicy
from supportflow.procedures.base import deadline, order_id_to_fetch, step
from supportflow.procedures.case import CaseState, StepResult
from supportflow.procedures.retention import answer, refuses_offers
from supportflow.understanding.contract import Understanding
from tests.procedures.conftest import NOW, Doc, check_rendered, facts_for, find_order, u


def policy(**retention: Any) -> TenantPolicy:
    return TenantPolicy.model_validate(
        {"sales": {"enabled": True, "retention": {"enabled": True, **retention}}}
    )


class Chat:
    """Drives ``step`` like the workflow of a sales-v1 run, offers on."""

    def __init__(self, seed: Doc, order: Doc, pol: TenantPolicy, capabilities: Any = None):
        self.seed, self.order, self.policy = seed, order, pol
        self.capabilities = capabilities
        self.case: CaseState | None = None
        self.n = 0

    def say(self, understanding: Understanding, text: str, *, offers: bool = True) -> StepResult:
        oid = order_id_to_fetch(self.case, understanding, self.order["order_id"])
        facts = facts_for(self.seed, oid, self.order["user_id"])
        if self.capabilities is not None:
            facts = facts.model_copy(update={"capabilities": self.capabilities})
        self.n += 1
        r = step(
            self.case,
            understanding,
            facts,
            policy=self.policy,
            now=NOW,
            new_case_id=f"wf/case/{self.n}",
            text=text,
            offers=offers,
        )
        if r.state is not None:
            self.case = r.state
        if r.template is not None and r.outcome != "saved":  # the workflow adds the code
            check_rendered(r)
        return r


@pytest.fixture
def pending(seed: Doc) -> Doc:
    return find_order(seed, lambda o, _u: o["status"] == "pending")


def _cancel(chat: Chat, order: Doc, why: str = "I no longer need it") -> StepResult:
    oid = order["order_id"]
    reason = "no longer needed" if "need" in why else "ordered by mistake"
    return chat.say(u("cancel_order", order_ids=[oid], reason=reason), f"cancel {oid}, {why}")


def test_the_offer_comes_before_the_confirmation_and_yes_saves_the_order(
    seed: Doc, pending: Doc
) -> None:
    chat = Chat(seed, pending, policy(offer="discount", discount_percent=15))
    offer = _cancel(chat, pending)
    assert (offer.outcome, offer.template, offer.awaiting) == (
        "continue",
        "retention_offer",
        "offer",
    )
    text = check_rendered(offer)
    assert pending["order_id"] in text and "15% off" in text
    assert offer.state is not None and offer.state.offer is not None
    assert offer.state.offer.asks == 1 and offer.state.offer.asked_at == NOW
    # The offer waits with the usual confirmation timeout.
    assert deadline(offer.state, chat.policy) == NOW + chat.policy.confirmation_timeout
    kept = chat.say(u("confirm"), "yes please")
    assert (kept.outcome, kept.template) == ("saved", "retention_saved")
    assert kept.state is not None and kept.state.step == "done" and kept.plan is None
    assert kept.retention is not None and kept.retention.offer is not None
    assert kept.retention.offer.status == "accepted"
    with_code = kept.model_copy(
        update={"facts": {**kept.facts, "code": "KEEP15", "valid_until": ""}}
    )
    assert "KEEP15" in check_rendered(with_code) and "15% off" in check_rendered(with_code)


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("decline", "no"),
        ("decline", "no thanks"),
        ("cancel_order", "just cancel it"),
        ("decline", "no, just cancel it"),
        ("confirm", "yes, cancel it"),
    ],
)
def test_no_or_insisting_goes_straight_to_the_confirmation(
    seed: Doc, pending: Doc, intent: str, text: str
) -> None:
    chat = Chat(seed, pending, policy())
    _cancel(chat, pending)
    r = chat.say(u(intent), text)
    assert (r.template, r.awaiting) == ("confirm_cancel", "confirm")
    assert r.retention is not None and r.retention.offer is not None
    assert r.retention.offer.status == "declined"
    # The confirmation's yes cancels; no second offer on the way.
    done = chat.say(u("confirm"), "yes")
    assert done.outcome == "execute" and done.plan is not None


def test_an_unclear_answer_is_asked_once_more_plainly_then_taken_as_no(
    seed: Doc, pending: Doc
) -> None:
    chat = Chat(seed, pending, policy(offer="free_shipping"))
    _cancel(chat, pending)
    again = chat.say(u("out_of_scope"), "hmm, what would that mean?")
    assert again.template == "retention_offer" and again.facts["unclear"] is True
    assert "plain yes or no" in check_rendered(again)
    assert again.retention is None
    on = chat.say(u("out_of_scope"), "hmm")
    assert on.template == "confirm_cancel"
    assert on.retention is not None and on.retention.offer is not None
    assert on.retention.offer.status == "declined"


def test_refusing_offers_up_front_skips_the_offer(seed: Doc, pending: Doc) -> None:
    chat = Chat(seed, pending, policy())
    oid = pending["order_id"]
    r = chat.say(
        u("cancel_order", order_ids=[oid], reason="no longer needed"),
        f"cancel {oid}, I no longer need it and I don't want any offers",
    )
    assert r.template == "confirm_cancel"
    assert r.state is not None and r.state.offer is not None
    assert r.state.offer.status == "refused" and r.retention is None


def test_no_offer_when_off_for_another_reason_or_the_store_cannot_make_codes(
    seed: Doc, pending: Doc
) -> None:
    off = TenantPolicy.model_validate({"sales": {"enabled": True}})  # retention off
    assert _cancel(Chat(seed, pending, off), pending).template == "confirm_cancel"
    sales_off = TenantPolicy.model_validate({"sales": {"retention": {"enabled": True}}})
    assert _cancel(Chat(seed, pending, sales_off), pending).template == "confirm_cancel"
    mistake = Chat(seed, pending, policy())  # default reasons: "no longer needed" only
    assert _cancel(mistake, pending, "I ordered it by mistake").template == "confirm_cancel"
    no_codes = Chat(seed, pending, policy(), capabilities=["get_order", "cancel_pending_order"])
    assert _cancel(no_codes, pending).template != "retention_offer"
    # A run without sales-v1 (offers off) answers exactly as before.
    older = Chat(seed, pending, policy())
    oid = pending["order_id"]
    r = older.say(
        u("cancel_order", order_ids=[oid], reason="no longer needed"),
        f"cancel {oid}, no longer needed",
        offers=False,
    )
    assert r.template == "confirm_cancel" and r.state is not None and r.state.offer is None


def test_an_exchange_offer_taken_becomes_an_item_change(seed: Doc, pending: Doc) -> None:
    chat = Chat(seed, pending, policy(offer="exchange"))
    offer = _cancel(chat, pending)
    assert "another size or colour" in check_rendered(offer)
    r = chat.say(u("confirm"), "yes")
    assert r.dropped is not None and r.dropped.step == "done"
    assert r.retention is not None and r.retention.offer is not None
    assert r.retention.offer.status == "accepted"
    assert r.state is not None and r.state.procedure == "modify_items"
    assert r.state.intent == "modify_order_items" and r.state.order_id == pending["order_id"]
    assert r.template == "ask_items" and check_rendered(r).startswith("Great, I won't cancel")


def test_another_request_instead_of_an_answer_drops_the_cancel(seed: Doc, pending: Doc) -> None:
    chat = Chat(seed, pending, policy())
    _cancel(chat, pending)
    r = chat.say(u("contact_human_agent", needs_human=True), "let me talk to a person")
    assert r.state is not None and r.state.procedure == "handoff"
    assert r.dropped is not None and r.dropped.step == "abandoned"


@pytest.mark.parametrize(
    ("text", "intent", "said"),
    [
        ("yes", "confirm", "yes"),
        ("sure", "confirm", "yes"),
        ("ok, I'll keep it", "confirm", "yes"),
        ("keep it", "decline", "yes"),
        ("I'd like the discount", "confirm", "yes"),
        ("no", "decline", "no"),
        ("nope", "decline", "no"),
        ("don't keep it", "decline", "no"),
        ("I don't want the discount", "decline", "no"),
        ("yes, cancel it", "confirm", "no"),
        ("no, keep it", "decline", "unclear"),
        ("what's the catch?", "out_of_scope", "unclear"),
    ],
)
def test_reading_the_answer(text: str, intent: str, said: str) -> None:
    assert answer(text, u(intent)) == said


def test_refusals_up_front() -> None:
    assert refuses_offers("cancel it, I don't want any offer")
    assert refuses_offers("Just cancel order #W1234567 please")
    assert refuses_offers("no discounts, cancel it")
    assert not refuses_offers("cancel it, I don't want it anymore")
    assert not refuses_offers("please cancel my order, I no longer need it")
