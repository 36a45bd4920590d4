"""The shopper model: how a simulated shopper browses, checks out, abandons and reacts to a
reminder. A MODEL, not data: every probability below is an assumption written down so a run
can be repeated and argued with (docs/shopper-model.md), never a measurement of real shoppers.

Pure and seeded: a shopper's every draw is made up front from its own random stream
(``"<seed>:shopper:<index>"``), so a run's decisions do not depend on how the shoppers
interleave, and the same seed gives the same shoppers on any machine. The one decision that
depends on what the stack does, whether to buy after a reminder, compares a draw made up front
with the probability the reminder's offer gives (``buys_after_reminder``): the same shopper
given a better offer never buys less.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

MODEL_NAME = "shopper model v1"
MODEL_DOC = "docs/shopper-model.md"
MODEL_LINE = f"model: {MODEL_NAME} ({MODEL_DOC}), not measured data"

OfferKind = Literal["none", "percentage", "fixed_amount", "free_shipping"]


@dataclass(frozen=True)
class ShopperModel:
    """The model's parameters. Probabilities are per shopper and independent of each other
    unless said otherwise; the defaults are round, plausible numbers, not estimates."""

    products_viewed_max: int = 4
    """A shopper views 1 to this many products (uniformly), one ``GET /products/{id}`` each;
    the last one viewed is the one put in the cart."""

    start_checkout: float = 0.8
    """Probability that a browsing shopper starts a checkout (the rest leave: no checkout, no
    sales touch, never counted in an experiment)."""

    email_consent: float = 0.6
    """Probability of ticking "email me offers" at checkout (``accepts_email_marketing``).
    Without it no reminder may be sent, in any arm."""

    buy_at_once: float = 0.35
    """Probability of completing the checkout right away (after ``think_s``); the rest
    abandon it."""

    come_back: float = 0.05
    """Probability that an abandoner comes back and buys on their own, reminder or not, at a
    uniformly random moment of the observed window (the reminder's delay plus its margin).
    This is why a hold-out arm converts too."""

    open_reminder: float = 0.5
    """Probability that a shopper who receives the reminder reads it. One who does not read
    it behaves as if none had come."""

    buy_after_reminder: float = 0.10
    """Probability that a reader of a reminder with no offer buys."""

    buy_after_discount_max: float = 0.40
    """The ceiling the probability of buying approaches as the discount grows; a discount
    of ``p`` percent gives ``buy_after_reminder + (max - buy_after_reminder) * p / (p +
    discount_half_percent)`` (diminishing returns)."""

    discount_half_percent: float = 10.0
    """The discount (percent) that closes half the gap between ``buy_after_reminder`` and
    ``buy_after_discount_max``: with the defaults, 10% off gives 0.25, 20% off 0.30."""

    buy_after_free_shipping: float = 0.16
    """Probability that a reader of a reminder offering free shipping buys."""

    think_s: tuple[float, float] = (2.0, 10.0)
    """Seconds (uniform) between starting a checkout and buying at once, and between
    reading a reminder and buying: real shoppers are not instant, and the stack's webhooks
    for the checkout are delivered before its order's."""

    def __post_init__(self) -> None:
        probabilities = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("products_viewed_max", "discount_half_percent", "think_s")
        }
        wrong = [name for name, p in probabilities.items() if not 0.0 <= p <= 1.0]
        if wrong:
            raise ValueError(f"probabilities must be between 0 and 1: {', '.join(wrong)}")
        if self.buy_after_discount_max < self.buy_after_reminder:
            raise ValueError("buy_after_discount_max must be at least buy_after_reminder")
        if self.products_viewed_max < 1 or self.discount_half_percent <= 0:
            raise ValueError("products_viewed_max must be >= 1, discount_half_percent > 0")
        low, high = self.think_s
        if not 0 <= low <= high:
            raise ValueError("think_s is (low, high) seconds with 0 <= low <= high")


@dataclass(frozen=True)
class Offer:
    """What a reminder offers, as the store describes its code (``GET /discount_codes``)."""

    kind: OfferKind = "none"
    value: float = 0.0  # percent for "percentage", dollars for "fixed_amount"

    @property
    def label(self) -> str:
        if self.kind == "percentage":
            return f"{self.value:g}% off"
        if self.kind == "fixed_amount":
            return f"${self.value:g} off"
        return "free shipping" if self.kind == "free_shipping" else "no offer"


@dataclass(frozen=True)
class ShopperPlan:
    """One shopper's draws, made before the run."""

    index: int
    products: tuple[str, ...]  # product ids viewed, in order; the last is bought
    starts_checkout: bool
    consents: bool
    buys_at_once: bool
    comes_back: bool
    come_back_at: float  # fraction of the observed window (0-1) when they come back
    opens_reminder: bool
    reaction_draw: float  # uniform [0, 1): buys after a read reminder if below its probability
    think_s: float


def buy_probability(model: ShopperModel, offer: Offer, cart_total: float | None = None) -> float:
    """Probability that a shopper who READ a reminder with ``offer`` buys. A fixed amount
    counts as the percentage of the cart it is (no cart total: as no offer)."""
    percent = 0.0
    if offer.kind == "percentage":
        percent = offer.value
    elif offer.kind == "fixed_amount" and cart_total:
        percent = min(100.0, 100.0 * offer.value / cart_total)
    elif offer.kind == "free_shipping":
        return model.buy_after_free_shipping
    if percent <= 0:
        return model.buy_after_reminder
    gap = model.buy_after_discount_max - model.buy_after_reminder
    return model.buy_after_reminder + gap * percent / (percent + model.discount_half_percent)


def buys_after_reminder(
    model: ShopperModel, plan: ShopperPlan, offer: Offer, cart_total: float | None = None
) -> bool:
    """Whether this shopper buys because of a reminder carrying ``offer``."""
    return plan.opens_reminder and plan.reaction_draw < buy_probability(model, offer, cart_total)


def expected_conversion(
    model: ShopperModel, offer: Offer | None, reminder_at: float, cart_total: float | None = None
) -> float:
    """The model's own probability that a shopper who started a checkout buys within the
    observed window: what an arm's rate estimates if the stack does exactly its part.
    ``offer`` None is a hold-out (no reminder); ``reminder_at`` is when the reminder comes,
    as a fraction of the observed window (the delay over the delay plus the margin).

    An abandoner buys if they come back before the reminder (``come_back * f``); otherwise,
    if they consented and read it, with the offer's probability ``q``; otherwise if they come
    back after it: ``cb f + (1 - cb f) c q + (1 - c q) cb (1 - f)``."""
    f = min(1.0, max(0.0, reminder_at))
    cb = model.come_back
    q = 0.0
    if offer is not None:
        q = model.email_consent * model.open_reminder * buy_probability(model, offer, cart_total)
    abandoner = cb * f + (1 - cb * f) * q + (1 - q) * cb * (1 - f)
    return model.buy_at_once + (1 - model.buy_at_once) * abandoner


def plan_shopper(
    model: ShopperModel, seed: int, index: int, catalogue: Sequence[str]
) -> ShopperPlan:
    """Shopper ``index``'s draws for run ``seed``, browsing ``catalogue`` (product ids). Every
    draw is made, used or not, so changing one parameter moves no other decision."""
    if not catalogue:
        raise ValueError("the catalogue is empty: a shopper needs products to browse")
    rng = random.Random(f"{seed}:shopper:{index}")
    viewed = rng.randint(1, model.products_viewed_max)
    products = tuple(rng.choice(catalogue) for _ in range(viewed))
    draws = [rng.random() for _ in range(7)]
    return ShopperPlan(
        index=index,
        products=products,
        starts_checkout=draws[0] < model.start_checkout,
        consents=draws[1] < model.email_consent,
        buys_at_once=draws[2] < model.buy_at_once,
        comes_back=draws[3] < model.come_back,
        come_back_at=draws[4],
        opens_reminder=draws[5] < model.open_reminder,
        reaction_draw=draws[6],
        think_s=rng.uniform(*model.think_s),
    )


def parameters(model: ShopperModel) -> dict[str, object]:
    """The parameters as a JSON-ready dict (for the report)."""
    return {f.name: getattr(model, f.name) for f in dataclasses.fields(model)}
