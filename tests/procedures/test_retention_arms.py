"""A retention experiment's arm inside the pure procedure engine (sales-agent-v1): the turn
that first makes an offer is found, an arm's policy offers the arm's offer (or none), and a
closed cancel case says what became of its order."""

from __future__ import annotations

import pytest

from supportflow.procedures.base import step
from supportflow.procedures.retention import kept, newly_offered, policy_for_arm
from tests.procedures.conftest import NOW, Doc, check_rendered, facts_for, find_order, u
from tests.procedures.test_retention import Chat, _cancel, policy


@pytest.fixture
def pending(seed: Doc) -> Doc:
    return find_order(seed, lambda o, _u: o["status"] == "pending")


def test_only_the_turn_that_makes_the_first_offer_is_new(seed: Doc, pending: Doc) -> None:
    chat = Chat(seed, pending, policy())
    offer = _cancel(chat, pending)
    assert newly_offered(None, offer.state)
    before = offer.state
    again = chat.say(u("other"), "hmm, what would that mean?")
    assert again.state is not None and again.state.offer is not None
    assert again.state.offer.asks == 2
    assert not newly_offered(before, again.state), "asked again is the same offer"
    assert not newly_offered(None, None)


def test_an_arms_policy_offers_its_own_offer_or_none(seed: Doc, pending: Doc) -> None:
    own = policy(offer="discount", discount_percent=10)
    twenty = policy_for_arm(own, "discount", 20)
    assert twenty is not None and twenty.sales.retention.discount_percent == 20
    shipping = policy_for_arm(own, "free_shipping", None)
    assert shipping is not None and shipping.sales.retention.offer == "free_shipping"
    assert policy_for_arm(own, "none", None) is None
    # The tenant's own policy is left as it was.
    assert own.sales.retention.discount_percent == 10
    offer = _cancel(Chat(seed, pending, twenty), pending)
    assert offer.template == "retention_offer" and offer.facts["percent"] == 20
    # No offer: the same turn goes straight to the usual confirmation.
    oid = pending["order_id"]
    plain = Chat(seed, pending, own).say(
        u("cancel_order", order_ids=[oid], reason="no longer needed"),
        f"cancel {oid}, I no longer need it",
        offers=False,
    )
    assert (plain.template, plain.awaiting) == ("confirm_cancel", "confirm")


def test_a_closed_cancel_case_says_whether_its_order_was_kept(seed: Doc, pending: Doc) -> None:
    taken = Chat(seed, pending, policy())
    _cancel(taken, pending)
    saved = taken.say(u("confirm"), "yes please")
    assert saved.state is not None and kept(saved.state) == "saved"

    declined = Chat(seed, pending, policy())
    _cancel(declined, pending)
    declined.say(u("decline"), "no, just cancel it")
    never_mind = declined.say(u("decline"), "actually no, keep it")
    assert never_mind.state is not None and never_mind.state.step == "abandoned"
    assert kept(never_mind.state) == "saved", "a cancel not confirmed keeps the order"

    cancelled = Chat(seed, pending, policy())
    _cancel(cancelled, pending)
    cancelled.say(u("decline"), "no")
    plan = cancelled.say(u("confirm"), "yes")
    assert plan.state is not None
    done = plan.state.model_copy(update={"step": "done"})
    assert kept(done) == "cancelled"
    assert kept(plan.state.model_copy(update={"step": "escalated"})) == "escalated"


def test_a_yes_restating_the_request_confirms_it_from_sales_agent_v1_on(
    seed: Doc, pending: Doc
) -> None:
    """ "yes please cancel it" is read as a cancel request by the understanding; from
    sales-agent-v1 on it confirms the cancel the customer is asked about (before, it was
    asked again, and recorded conversations keep that)."""
    oid = pending["order_id"]
    for restated, expected in ((False, "continue"), (True, "execute")):
        chat = Chat(seed, pending, policy(enabled=False))
        chat.say(
            u("cancel_order", order_ids=[oid], reason="no longer needed"),
            f"cancel {oid}, I no longer need it",
        )
        assert chat.case is not None and chat.case.step == "confirming"
        oid_free = u("cancel_order")
        r = step(
            chat.case,
            oid_free,
            facts_for(seed, oid, pending["user_id"]),
            policy=chat.policy,
            now=NOW,
            new_case_id="wf/case/9",
            text="yes please cancel it",
            restated_yes=restated,
        )
        assert r.outcome == expected, (restated, r.template)
    # A restated request that is not a yes is still asked again.
    r = step(
        chat.case,
        u("cancel_order"),
        facts_for(seed, oid, pending["user_id"]),
        policy=chat.policy,
        now=NOW,
        new_case_id="wf/case/10",
        text="cancel it please",
        restated_yes=True,
    )
    assert r.outcome == "continue" and r.template == "confirm_cancel"


def test_an_exchange_taken_on_a_one_item_order_says_the_order_is_kept(seed: Doc) -> None:
    """Found by the canceller simulation: with one item the exchange goes straight to "which
    version instead?", and that question too first says the order is not cancelled."""
    single = find_order(seed, lambda o, _u: o["status"] == "pending" and len(o["items"]) == 1)
    chat = Chat(seed, single, policy(offer="exchange"))
    _cancel(chat, single)
    r = chat.say(u("confirm"), "yes")
    assert r.state is not None and r.state.procedure == "modify_items"
    assert r.template == "ask_new_items", r.template
    assert check_rendered(r).startswith("Great, I won't cancel it. Which ")
