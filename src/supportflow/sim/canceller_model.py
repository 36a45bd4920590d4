"""The canceller model: how a simulated customer who asks to cancel a pending order reacts to
a retention offer and to the cancel's confirmation. A MODEL, not data: every probability below
is an assumption written down so a run can be repeated and argued with
(docs/shopper-model.md, "Cancellers"), never a measurement of real customers.

Pure and seeded, like the shopper model: canceller *i* of seed *s* draws everything up front
from its own stream (``"<s>:canceller:<i>"``), so a run's decisions do not depend on how the
cancellers interleave. The one decision that depends on what the stack does, keeping the order
after an offer, compares a draw made up front with the probability the offer gives
(``keeps_after_offer``): the same canceller offered more never keeps less.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Literal

MODEL_NAME = "canceller model v1"
MODEL_DOC = "docs/shopper-model.md#cancellers"
MODEL_LINE = f"model: {MODEL_NAME} ({MODEL_DOC}), not measured data"

Reason = Literal["no longer needed", "ordered by mistake"]
OfferKind = Literal["none", "discount", "free_shipping", "exchange"]
REASONS: tuple[Reason, ...] = ("no longer needed", "ordered by mistake")

# How many wordings each list in canceller_words.py may have at most: a canceller draws an
# index below this for each, up front, and takes it modulo the list's length (so adding a
# wording to a list changes which one is said, never any other decision).
WORDING_SPAN = 1_000_000


@dataclass(frozen=True)
class CancellerModel:
    """The model's parameters; the defaults are round, plausible numbers, not estimates."""

    reason_not_needed: float = 0.6
    """Probability that the canceller's reason is "no longer needed" (otherwise "ordered by
    mistake"). Both are reasons the run's tenant makes its retention offer for."""

    keep_after_discount_max: float = 0.45
    """The ceiling the probability of keeping the order approaches as the discount on the
    next order grows: ``p`` percent gives ``max * p / (p + discount_half_percent)``
    (diminishing returns)."""

    discount_half_percent: float = 10.0
    """The discount (percent) at which keeping reaches half the ceiling: with the defaults
    10% off gives 0.225, 20% off 0.30, 50% off 0.375."""

    keep_after_free_shipping: float = 0.10
    """Probability of keeping the order for free shipping on the next order."""

    keep_after_exchange: float = 0.15
    """Probability of keeping the order for an exchange (another size or colour)."""

    mistake_factor: float = 0.5
    """Keeping probabilities are multiplied by this for a canceller who ordered by mistake
    (who wanted nothing in the first place), 1 for one who no longer needs the order."""

    confirm_cancel: float = 0.9
    """Probability of saying yes when asked to confirm the cancel (after a declined offer, or
    with none). The others change their mind and keep the order: why a hold-out arm saves
    some orders too."""

    think_s: tuple[float, float] = (0.5, 2.0)
    """Seconds (uniform) between reading a reply and answering it."""

    def __post_init__(self) -> None:
        probabilities = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("discount_half_percent", "think_s")
        }
        wrong = [name for name, p in probabilities.items() if not 0.0 <= p <= 1.0]
        if wrong:
            raise ValueError(f"probabilities must be between 0 and 1: {', '.join(wrong)}")
        if self.discount_half_percent <= 0:
            raise ValueError("discount_half_percent must be > 0")
        low, high = self.think_s
        if not 0 <= low <= high:
            raise ValueError("think_s is (low, high) seconds with 0 <= low <= high")


@dataclass(frozen=True)
class RetentionOffer:
    """What the agent offered, as the canceller read it in the reply."""

    kind: OfferKind = "none"
    percent: int | None = None  # with "discount"

    @property
    def label(self) -> str:
        if self.kind == "discount":
            return f"{self.percent}% off next order"
        if self.kind == "free_shipping":
            return "free shipping on next order"
        return "exchange" if self.kind == "exchange" else "no offer"


@dataclass(frozen=True)
class CancellerPlan:
    """One canceller's draws, made before the run."""

    index: int
    reason: Reason
    keep_draw: float  # uniform [0, 1): keeps after an offer if below its probability
    confirms: bool  # says yes to the cancel's confirmation
    product_draw: int  # which product of the catalogue they ordered (modulo its size)
    wordings: tuple[int, ...]  # one index per wording list (canceller_words.py)
    think_s: tuple[float, ...]  # one pause per answer, in order


# How many answers a canceller may give at most (each with its own pause).
MAX_ANSWERS = 8
# Wording lists a canceller picks from (canceller_words.WORDINGS has as many).
WORDING_LISTS = 8


def keep_probability(model: CancellerModel, offer: RetentionOffer, reason: Reason) -> float:
    """Probability that a canceller with ``reason`` keeps the order for ``offer``."""
    if offer.kind == "discount":
        percent = float(offer.percent or 0)
        if percent <= 0:
            return 0.0
        base = model.keep_after_discount_max * percent / (percent + model.discount_half_percent)
    elif offer.kind == "free_shipping":
        base = model.keep_after_free_shipping
    elif offer.kind == "exchange":
        base = model.keep_after_exchange
    else:
        return 0.0
    return base * (model.mistake_factor if reason == "ordered by mistake" else 1.0)


def keeps_after_offer(model: CancellerModel, plan: CancellerPlan, offer: RetentionOffer) -> bool:
    """Whether this canceller takes ``offer`` and keeps the order."""
    return plan.keep_draw < keep_probability(model, offer, plan.reason)


def keeps_order(model: CancellerModel, plan: CancellerPlan, offer: RetentionOffer | None) -> bool:
    """What the canceller ends up wanting: keep the order (a save) or have it cancelled,
    given the offer made (None or "none": straight to the confirmation)."""
    if offer is not None and keeps_after_offer(model, plan, offer):
        return True
    return not plan.confirms


def expected_save(model: CancellerModel, offer: RetentionOffer | None) -> float:
    """The model's own save rate for an arm making ``offer`` (None: no offer): what the
    arm's measured rate estimates if the stack does exactly its part. A canceller keeps the
    order for the offer (``k``, averaged over the reasons) or, having declined, does not
    confirm the cancel: ``k + (1 - k) (1 - confirm_cancel)``."""
    k = 0.0
    if offer is not None:
        k = model.reason_not_needed * keep_probability(model, offer, "no longer needed") + (
            1 - model.reason_not_needed
        ) * keep_probability(model, offer, "ordered by mistake")
    return k + (1 - k) * (1 - model.confirm_cancel)


def plan_canceller(model: CancellerModel, seed: int, index: int) -> CancellerPlan:
    """Canceller ``index``'s draws for run ``seed``. Every draw is made, used or not, so
    changing one parameter moves no other decision."""
    rng = random.Random(f"{seed}:canceller:{index}")
    draws = [rng.random() for _ in range(3)]
    product = rng.randrange(WORDING_SPAN)
    wordings = tuple(rng.randrange(WORDING_SPAN) for _ in range(WORDING_LISTS))
    pauses = tuple(rng.uniform(*model.think_s) for _ in range(MAX_ANSWERS))
    return CancellerPlan(
        index=index,
        reason=REASONS[0] if draws[0] < model.reason_not_needed else REASONS[1],
        keep_draw=draws[1],
        confirms=draws[2] < model.confirm_cancel,
        product_draw=product,
        wordings=wordings,
        think_s=pauses,
    )


def parameters(model: CancellerModel) -> dict[str, object]:
    """The parameters as a JSON-ready dict (for the report)."""
    return {f.name: getattr(model, f.name) for f in dataclasses.fields(model)}
