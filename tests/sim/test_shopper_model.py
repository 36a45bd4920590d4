"""The shopper model's pure parts: seeded draws, probabilities kept, offers that help."""

from __future__ import annotations

import dataclasses
import math

import pytest

from supportflow.sim.shopper_model import (
    MODEL_LINE,
    Offer,
    ShopperModel,
    ShopperPlan,
    buy_probability,
    buys_after_reminder,
    expected_conversion,
    parameters,
    plan_shopper,
)

CATALOGUE = [f"p{i}" for i in range(50)]
N = 20_000


def _within(count: int, n: int, p: float, sds: float = 4.5) -> bool:
    """``count`` successes of ``n`` is within ``sds`` binomial standard deviations of n*p."""
    return abs(count - n * p) <= sds * math.sqrt(n * p * (1 - p)) + 1


def test_the_same_seed_gives_the_same_shoppers_and_another_seed_others() -> None:
    model = ShopperModel()
    first = [plan_shopper(model, 7, i, CATALOGUE) for i in range(200)]
    assert first == [plan_shopper(model, 7, i, CATALOGUE) for i in range(200)]
    other = [plan_shopper(model, 8, i, CATALOGUE) for i in range(200)]
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 190
    # A shopper's draws are its own: planned alone or among others, the same.
    assert plan_shopper(model, 7, 150, CATALOGUE) == first[150]


def test_probabilities_are_kept_within_binomial_tolerance() -> None:
    model = ShopperModel(start_checkout=0.7, email_consent=0.4, buy_at_once=0.3, come_back=0.08)
    plans = [plan_shopper(model, 3, i, CATALOGUE) for i in range(N)]
    for attr, p in (
        ("starts_checkout", 0.7),
        ("consents", 0.4),
        ("buys_at_once", 0.3),
        ("comes_back", 0.08),
        ("opens_reminder", 0.5),
    ):
        hits = sum(getattr(plan, attr) for plan in plans)
        assert _within(hits, N, p), (attr, hits / N)
    views = [len(plan.products) for plan in plans]
    assert set(views) == {1, 2, 3, 4}
    assert all(_within(views.count(k), N, 0.25) for k in range(1, 5))
    assert all(2.0 <= plan.think_s <= 10.0 for plan in plans)
    # Buying after a read reminder with 10% off happens at the model's 0.25.
    readers = [plan for plan in plans if plan.opens_reminder]
    buyers = sum(buys_after_reminder(model, plan, Offer("percentage", 10)) for plan in readers)
    assert _within(buyers, len(readers), 0.25)


def test_what_a_reminder_offers_changes_the_probability_as_documented() -> None:
    model = ShopperModel()
    assert buy_probability(model, Offer()) == pytest.approx(0.10)
    assert buy_probability(model, Offer("percentage", 10)) == pytest.approx(0.25)
    assert buy_probability(model, Offer("percentage", 20)) == pytest.approx(0.30)
    assert buy_probability(model, Offer("free_shipping")) == pytest.approx(0.16)
    # $20 off a $200 cart is 10% off; with no cart total, a fixed amount is no offer.
    assert buy_probability(model, Offer("fixed_amount", 20), 200.0) == pytest.approx(0.25)
    assert buy_probability(model, Offer("fixed_amount", 20)) == pytest.approx(0.10)
    rising = [buy_probability(model, Offer("percentage", p)) for p in range(0, 101, 5)]
    assert rising == sorted(rising) and rising[-1] < model.buy_after_discount_max


def test_a_shopper_offered_more_never_buys_less_and_an_unread_reminder_sells_nothing() -> None:
    model = ShopperModel()
    for i in range(2000):
        plan = plan_shopper(model, 1, i, CATALOGUE)
        buys = [buys_after_reminder(model, plan, Offer("percentage", p)) for p in (0, 5, 10, 30)]
        assert buys == sorted(buys)  # False before True: never back to False
        if not plan.opens_reminder:
            assert not any(buys)


def test_changing_one_parameter_moves_no_other_decision() -> None:
    base = [plan_shopper(ShopperModel(), 4, i, CATALOGUE) for i in range(500)]
    keener = [plan_shopper(ShopperModel(buy_at_once=0.9), 4, i, CATALOGUE) for i in range(500)]
    for a, b in zip(base, keener, strict=True):
        assert dataclasses.replace(a, buys_at_once=b.buys_at_once) == b
        assert b.buys_at_once or not a.buys_at_once  # more likely, never less


def test_bad_parameters_are_refused_with_their_names() -> None:
    with pytest.raises(ValueError, match="email_consent"):
        ShopperModel(email_consent=1.5)
    with pytest.raises(ValueError, match="buy_after_discount_max"):
        ShopperModel(buy_after_reminder=0.5, buy_after_discount_max=0.2)
    with pytest.raises(ValueError, match="think_s"):
        ShopperModel(think_s=(5.0, 1.0))
    with pytest.raises(ValueError, match="catalogue"):
        plan_shopper(ShopperModel(), 0, 0, [])


def test_the_model_is_named_as_a_model() -> None:
    assert MODEL_LINE == "model: shopper model v1 (docs/shopper-model.md), not measured data"
    params = parameters(ShopperModel())
    assert params["buy_at_once"] == 0.35 and "think_s" in params


def _buys(model: ShopperModel, plan: ShopperPlan, offer: Offer | None, f: float) -> bool:
    """What the runner does with a plan (sim/shoppers.py), with the reminder coming at
    fraction ``f`` of the window to everyone who consented (None: a hold-out)."""
    if plan.buys_at_once:
        return True
    if plan.comes_back and plan.come_back_at < f:
        return True  # back before the reminder
    if offer is not None and plan.consents and buys_after_reminder(model, plan, offer):
        return True
    return plan.comes_back


@pytest.mark.parametrize(
    ("offer", "expected"),
    [(None, 0.3825), (Offer(), 0.401025), (Offer("percentage", 10), 0.4288125)],
)
def test_the_models_expected_rate_is_what_its_shoppers_do(
    offer: Offer | None, expected: float
) -> None:
    model = ShopperModel()
    f = 60 / 105  # a one-minute delay, a 45 s margin
    assert expected_conversion(model, offer, f) == pytest.approx(expected, abs=5e-5)
    plans = [plan_shopper(model, 9, i, CATALOGUE) for i in range(N)]
    bought = sum(_buys(model, plan, offer, f) for plan in plans)
    assert _within(bought, N, expected)
