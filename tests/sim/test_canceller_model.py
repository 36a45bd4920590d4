"""The canceller model's pure parts: seeded draws, probabilities kept, offers that help, the
model's own save rate; the retention arms; and how a canceller reads the product's own reply
templates."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from typer.testing import CliRunner

from supportflow.cli.main import app
from supportflow.policy.load import parse_policy
from supportflow.policy.model import TenantPolicy
from supportflow.replies.render import render
from supportflow.sim import canceller_words as words
from supportflow.sim.canceller_arms import (
    DEFAULT_ARMS,
    arm_by_offer,
    arm_offer,
    describe,
    parse_arms,
)
from supportflow.sim.canceller_model import (
    MODEL_LINE,
    CancellerModel,
    RetentionOffer,
    expected_save,
    keep_probability,
    keeps_after_offer,
    keeps_order,
    parameters,
    plan_canceller,
)
from supportflow.sim.canceller_setup import run_policy

N = 20_000
TEN_OFF = RetentionOffer("discount", 10)


def _within(count: int, n: int, p: float, sds: float = 4.5) -> bool:
    """``count`` successes of ``n`` is within ``sds`` binomial standard deviations of n*p."""
    return abs(count - n * p) <= sds * math.sqrt(n * p * (1 - p)) + 1


def test_the_same_seed_gives_the_same_cancellers_and_another_seed_others() -> None:
    model = CancellerModel()
    first = [plan_canceller(model, 7, i) for i in range(200)]
    assert first == [plan_canceller(model, 7, i) for i in range(200)]
    other = [plan_canceller(model, 8, i) for i in range(200)]
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 190
    assert plan_canceller(model, 7, 150) == first[150]


def test_probabilities_are_kept_within_binomial_tolerance() -> None:
    model = CancellerModel(reason_not_needed=0.3, confirm_cancel=0.8)
    plans = [plan_canceller(model, 3, i) for i in range(N)]
    assert _within(sum(p.reason == "no longer needed" for p in plans), N, 0.3)
    assert _within(sum(p.confirms for p in plans), N, 0.8)
    assert all(0.5 <= t <= 2.0 for p in plans for t in p.think_s)
    # Keeping after 10% off happens at the model's rate for each reason.
    for reason, rate in (("no longer needed", 0.225), ("ordered by mistake", 0.1125)):
        mine = [p for p in plans if p.reason == reason]
        kept = sum(keeps_after_offer(model, p, TEN_OFF) for p in mine)
        assert _within(kept, len(mine), rate), (reason, kept / len(mine))


def test_what_an_offer_does_is_as_documented() -> None:
    model = CancellerModel()
    needed = "no longer needed"
    assert keep_probability(model, RetentionOffer(), needed) == 0.0
    assert keep_probability(model, TEN_OFF, needed) == pytest.approx(0.225)
    assert keep_probability(model, RetentionOffer("discount", 20), needed) == pytest.approx(0.30)
    assert keep_probability(model, RetentionOffer("discount", 50), needed) == pytest.approx(0.375)
    assert keep_probability(model, RetentionOffer("free_shipping"), needed) == pytest.approx(0.10)
    assert keep_probability(model, RetentionOffer("exchange"), needed) == pytest.approx(0.15)
    # One who ordered by mistake keeps half as often.
    assert keep_probability(model, TEN_OFF, "ordered by mistake") == pytest.approx(0.1125)
    rising = [keep_probability(model, RetentionOffer("discount", p), needed) for p in range(1, 51)]
    assert rising == sorted(rising) and rising[-1] < model.keep_after_discount_max


def test_a_canceller_offered_more_never_keeps_less() -> None:
    model = CancellerModel()
    for i in range(2000):
        plan = plan_canceller(model, 1, i)
        keeps = [
            keeps_after_offer(model, plan, RetentionOffer("discount", p)) for p in (1, 5, 10, 30)
        ]
        assert keeps == sorted(keeps)
        assert not keeps_after_offer(model, plan, RetentionOffer())


def test_changing_one_parameter_moves_no_other_decision() -> None:
    base = [plan_canceller(CancellerModel(), 4, i) for i in range(500)]
    surer = [plan_canceller(CancellerModel(confirm_cancel=0.99), 4, i) for i in range(500)]
    for a, b in zip(base, surer, strict=True):
        assert dataclasses.replace(a, confirms=b.confirms) == b
        assert b.confirms or not a.confirms


@pytest.mark.parametrize(
    ("offer", "expected"),
    [
        (None, 0.10),
        (RetentionOffer(), 0.10),
        # k = 0.6 * 0.225 + 0.4 * 0.1125 = 0.18; 0.18 + 0.82 * 0.1
        (TEN_OFF, 0.262),
        # k = 0.6 * 0.10 + 0.4 * 0.05 = 0.08; 0.08 + 0.92 * 0.1
        (RetentionOffer("free_shipping"), 0.172),
    ],
)
def test_the_models_expected_save_rate_is_what_its_cancellers_do(
    offer: RetentionOffer | None, expected: float
) -> None:
    model = CancellerModel()
    assert expected_save(model, offer) == pytest.approx(expected)
    plans = [plan_canceller(model, 9, i) for i in range(N)]
    kept = sum(keeps_order(model, p, offer) for p in plans)
    assert _within(kept, N, expected)


def test_bad_parameters_are_refused_with_their_names() -> None:
    with pytest.raises(ValueError, match="confirm_cancel"):
        CancellerModel(confirm_cancel=1.5)
    with pytest.raises(ValueError, match="discount_half_percent"):
        CancellerModel(discount_half_percent=0)
    with pytest.raises(ValueError, match="think_s"):
        CancellerModel(think_s=(3.0, 1.0))


def test_the_model_is_named_as_a_model() -> None:
    assert MODEL_LINE == (
        "model: canceller model v1 (docs/shopper-model.md#cancellers), not measured data"
    )
    assert parameters(CancellerModel())["confirm_cancel"] == 0.9


# --- arms ------------------------------------------------------------------------------------
def test_retention_arms_allow_an_exchange_and_refuse_a_delay() -> None:
    arms = parse_arms([])
    assert [a.name for a in arms] == ["control", "ten-off"]
    assert parse_arms(list(DEFAULT_ARMS)) == arms
    assert [describe(a) for a in arms] == [
        "no offer (straight to the confirmation)",
        "offer: 10% off next order",
    ]
    swap = parse_arms(["hold:1:send=false", "swap:1:offer=exchange", "ship:1:offer=free_shipping"])
    assert [arm_offer(a) for a in swap] == [
        None,
        RetentionOffer("exchange"),
        RetentionOffer("free_shipping"),
    ]
    with pytest.raises(ValueError, match="delay_minutes"):
        parse_arms(["a:1", "b:1:offer=discount,discount_percent=5,delay_minutes=3"])
    with pytest.raises(ValueError, match="discount_percent"):
        parse_arms(["a:1", "b:1:offer=discount"])


def test_an_arm_is_told_by_its_offer_only_when_no_other_arm_makes_it() -> None:
    arms = parse_arms(["hold:1:send=false", "none:1", "ten:1:offer=discount,discount_percent=10"])
    # Two arms make no offer: a canceller who got none could be in either.
    assert arm_by_offer(arms) == {"10% off next order": "ten"}
    assert arm_by_offer(parse_arms([])) == {"none": "control", "10% off next order": "ten-off"}


def test_the_run_policy_turns_retention_on_for_both_reasons_and_reminders_off() -> None:
    before: dict[str, Any] = {
        "max_auto_refund": "100.00",
        "sales": {"enabled": False, "retention": {"offer": "free_shipping"}},
    }
    policy = run_policy(before)
    assert policy["max_auto_refund"] == "100.00"
    sales = policy["sales"]
    assert sales["enabled"] and sales["retention"]["enabled"]
    assert sales["retention"]["offer"] == "free_shipping"  # the tenant's own offer is kept
    assert sorted(sales["retention"]["reasons"]) == ["no longer needed", "ordered by mistake"]
    assert sales["abandoned_checkout"]["enabled"] is False
    assert before["sales"]["enabled"] is False  # the original is untouched
    # And the stack takes it.
    accepted = parse_policy(run_policy(TenantPolicy().model_dump(mode="json")))
    assert accepted.sales.retention.enabled and set(accepted.sales.retention.reasons) == {
        "no longer needed",
        "ordered by mistake",
    }
    assert not accepted.sales.abandoned_checkout.enabled


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--arm", "a:1", "--arm", "b:1:offer=discount,discount_percent=5,delay_minutes=3"],
            "delay",
        ),
        (["--arm", "a:1", "--arm", "b:1:offer=gift"], "offer"),
        (["--shoppers", "3"], "alone"),
        (["--customers", "3"], "alone"),
    ],
)
def test_the_cli_refuses_bad_canceller_runs_before_starting_anything(
    args: list[str], says: str
) -> None:
    result = CliRunner().invoke(app, ["simulate", "--cancellers", "5", *args])
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "starting an embedded stack" not in result.output


# --- reading the product's replies --------------------------------------------------------------
def _offer_text(offer: str, percent: int | None = 10, unclear: bool = False) -> str:
    facts = {"order_id": "#W1234567", "offer": offer, "percent": percent, "unclear": unclear}
    return render("retention_offer", facts)


@pytest.mark.parametrize(
    ("offer", "percent", "read"),
    [
        ("discount", 15, RetentionOffer("discount", 15)),
        ("free_shipping", None, RetentionOffer("free_shipping")),
        ("exchange", None, RetentionOffer("exchange")),
    ],
)
def test_an_offer_is_read_with_its_kind_from_the_products_template(
    offer: str, percent: int | None, read: RetentionOffer
) -> None:
    first = words.read_reply(_offer_text(offer, percent))
    assert (first.kind, first.offer, first.unclear) == ("offer", read, False)
    again = words.read_reply(_offer_text(offer, percent, unclear=True))
    assert (again.kind, again.offer, again.unclear) == ("offer", read, True)


def test_every_other_reply_a_cancel_may_get_is_read_from_the_products_template() -> None:
    oid = {"order_id": "#W1234567"}
    refunds = {
        **oid,
        "items": ["Water Bottle (blue)"],
        "reason": "no longer needed",
        "amount": "$20.00",
        "refunds": [{"amount": "$20.00", "to": "Visa ending 1234", "at_once": False}],
        "refund_at_once": False,
        "refund_later": True,
        "needs_approval": False,
    }
    cases = {
        "ask_cancel_reason": ("ask_reason", oid),
        "confirm_cancel": ("confirm", refunds),
        "cancel_done": ("cancelled", refunds),
        "retention_saved": (
            "saved",
            {**oid, "offer": "discount", "percent": 10, "code": "KEEP-1", "valid_until": "May 1"},
        ),
        "retention_code_failed": ("saved", oid),
        "ask_items": ("exchange_kept", {**oid, "kept": True, "purpose": "exchange", "items": []}),
        "ask_new_items": (
            "exchange_choose",
            {
                "name": "Mug",
                "item": "Mug (red)",
                "options": ["blue", "green"],
                "unavailable": None,
                "other_product": None,
                "more_options": False,
            },
        ),
        "case_abandoned": ("dropped", {"action": "cancel order #W1234567"}),
        "case_timed_out": ("dropped", {"action": "cancel order #W1234567"}),
        "cancel_not_pending": (
            "not_pending",
            {**oid, "status_phrase": "processed", "can_return": False},
        ),
        "approval_requested": (
            "approval",
            {"action": "cancel order #W1234567", "reason": "a refund this size needs approval."},
        ),
    }
    for template, (kind, facts) in cases.items():
        text = render(template, facts)
        assert words.read_reply(text).kind == kind, (template, text)
    # The rating question after a resolved case changes nothing.
    done = render("cancel_done", refunds) + " " + render("csat_ask", {})
    assert words.read_reply(done).kind == "cancelled"
    assert words.read_reply("Sorry, what?").kind == "unexpected"


def test_wordings_name_the_order_and_follow_the_plan() -> None:
    model = CancellerModel()
    texts = set()
    for i in range(200):
        plan = plan_canceller(model, 2, i)
        text = words.opening(plan, "#W7654321")
        assert "W7654321" in text
        texts.add(text)
        assert words.opening(plan, "#W7654321") == text  # the same plan says the same
        assert words.accept(plan, TEN_OFF) and words.decline(plan) and words.confirm(plan)
    assert len(texts) == sum(len(v) for v in words.OPENING.values())  # every wording is used
