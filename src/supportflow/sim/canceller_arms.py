"""`supportflow simulate --cancellers N --arm ...`: the retention experiment a canceller run
creates, in the `--arm` syntax of the shopper run (sim/shopper_arms.py), checked by the
experiment's own rules for ``behaviour: retention`` (an exchange is allowed, a delay is not)
before anything touches a stack."""

from __future__ import annotations

from collections.abc import Sequence

from supportflow.sales.experiments import Arm, ExperimentError, new_experiment
from supportflow.sim.canceller_model import RetentionOffer
from supportflow.sim.shopper_arms import parse_arm

# The default experiment: no offer (straight to the confirmation) against 10% off.
DEFAULT_ARMS = ("control:50", "ten-off:50:offer=discount,discount_percent=10")


def parse_arms(specs: Sequence[str]) -> tuple[Arm, ...]:
    """The arms (default: ``DEFAULT_ARMS``), checked as a retention experiment; ValueError
    saying what is wrong otherwise."""
    fields = [parse_arm(s) for s in (specs or DEFAULT_ARMS)]
    try:
        draft = new_experiment("t_sim", "simulate", "retention", fields)
    except ExperimentError as err:
        raise ValueError(str(err)) from None
    return draft.arms


def arm_offer(arm: Arm) -> RetentionOffer | None:
    """What an arm offers a canceller, in the model's terms; None when it makes no offer
    (a hold-out, or offer "none")."""
    p = arm.params
    if not p.send or p.offer == "none":
        return None
    if p.offer == "discount":
        return RetentionOffer("discount", p.discount_percent)
    return RetentionOffer(p.offer)


def describe(arm: Arm) -> str:
    """An arm's params in words: 'no offer (straight to the confirmation)', '10% off ...'."""
    offer = arm_offer(arm)
    if offer is None:
        return "no offer (straight to the confirmation)"
    return f"offer: {offer.label}"


def signature(offer: RetentionOffer | None) -> str:
    """The offer as the canceller sees it, the same for an arm and for what a reply said."""
    return "none" if offer is None or offer.kind == "none" else offer.label


def arm_by_offer(arms: Sequence[Arm]) -> dict[str, str]:
    """Which arm a canceller was in, told by the offer it saw: only for offers exactly one
    arm makes (two arms making the same offer, or none, cannot be told apart)."""
    counts: dict[str, list[str]] = {}
    for arm in arms:
        counts.setdefault(signature(arm_offer(arm)), []).append(arm.name)
    return {sig: names[0] for sig, names in counts.items() if len(names) == 1}
