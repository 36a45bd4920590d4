"""An experiment's results from its recorded counts: per arm the conversion rate with its
Wilson interval, and each arm against the control (the first arm) as a difference with
Newcombe's hybrid score interval and a relative uplift with its MOVER-R interval.

Intention to treat: every unit recorded in an arm is an exposure of that arm, whatever then
happened to it (message sent, held back as control, suppressed for lack of consent, already
bought). Counting only the units that were messaged would compare the customers who could
be reached in one arm with everyone in the hold-out.

Pure: the counts come from ``experiment_store.experiment_results``. Every estimate here
comes with its interval, and the results say which model made them.

In a retention experiment the unit is a cancel request that reached the offer's moment, and
its "conversion" is a save: the cancel case closed with the order kept (the offer taken, the
cancel not confirmed, or the request dropped). A request still open counts as not saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from supportflow.sales.experiments import ArmParams, Behaviour, Experiment, Status
from supportflow.sales.stats import (
    DEFAULT_CONFIDENCE,
    newcombe_difference,
    relative_uplift,
    wilson,
)

_CENT = Decimal("0.01")


def model_description(confidence: float = DEFAULT_CONFIDENCE) -> str:
    level = f"{confidence * 100:g}%"
    return (
        f"intention-to-treat, Wilson {level} per arm, Newcombe hybrid score {level} for differences"
    )


def uplift_model_description(confidence: float = DEFAULT_CONFIDENCE) -> str:
    return f"MOVER-R Wilson {confidence * 100:g}% for the ratio of rates, minus 1"


@dataclass(frozen=True)
class ArmCounts:
    """What was recorded for one arm: units assigned, units with at least one attributed
    order, and the total of those orders."""

    exposures: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal(0)


class ArmResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    arm: str
    weight: int
    params: ArmParams
    exposures: int
    conversions: int
    rate: float | None
    rate_interval: tuple[float, float]
    revenue: Decimal
    # Descriptive only: an average with no interval, never compared between arms here.
    revenue_per_exposure: Decimal | None


class ArmComparison(BaseModel):
    """One arm against the control. ``difference`` is in rate points (0.02 = two points);
    ``relative_uplift`` is a fraction of the control's rate (0.25 = 25% more). None with its
    interval when it cannot be estimated (an empty arm; a control with no conversions for
    the relative uplift); ``note`` says why."""

    model_config = ConfigDict(frozen=True)

    arm: str
    versus: str
    difference: float | None
    difference_interval: tuple[float, float] | None
    relative_uplift: float | None
    relative_uplift_interval: tuple[float, float] | None
    note: str | None = None


class ExperimentResults(BaseModel):
    model_config = ConfigDict(frozen=True)

    experiment_id: str
    name: str
    behaviour: Behaviour
    status: Status
    version: int
    started_at: datetime | None
    stopped_at: datetime | None
    confidence: float
    model: str
    relative_uplift_model: str
    control: str
    # What ``conversions`` counts: orders attributed to a touch ("conversion"), or, in a
    # retention experiment, cancel requests whose order was kept ("save").
    outcome: Literal["conversion", "save"] = "conversion"
    arms: list[ArmResult]
    comparisons: list[ArmComparison]
    # Touches recorded under an arm name the experiment does not have (not compared).
    unknown_arms: dict[str, int]
    notes: list[str]


def _arm_result(
    experiment: Experiment, name: str, counts: ArmCounts, confidence: float
) -> ArmResult:
    arm = experiment.arm(name)
    assert arm is not None
    rate = wilson(counts.conversions, counts.exposures, confidence)
    per_exposure = (
        (counts.revenue / counts.exposures).quantize(_CENT, ROUND_HALF_UP)
        if counts.exposures
        else None
    )
    return ArmResult(
        arm=arm.name,
        weight=arm.weight,
        params=arm.params,
        exposures=counts.exposures,
        conversions=counts.conversions,
        rate=rate.estimate,
        rate_interval=(rate.interval.low, rate.interval.high),
        revenue=counts.revenue.quantize(_CENT, ROUND_HALF_UP),
        revenue_per_exposure=per_exposure,
    )


def _compare(arm: ArmResult, control: ArmResult, confidence: float) -> ArmComparison:
    args = (arm.conversions, arm.exposures, control.conversions, control.exposures, confidence)
    difference = newcombe_difference(*args)
    uplift = relative_uplift(*args)
    note = None
    if difference is None:
        note = "not estimable: an arm has no exposures yet"
    elif uplift is None:
        note = "no relative uplift: the control has no conversions yet (the ratio is unbounded)"
    return ArmComparison(
        arm=arm.arm,
        versus=control.arm,
        difference=None if difference is None else difference.estimate,
        difference_interval=None
        if difference is None
        else (difference.interval.low, difference.interval.high),
        relative_uplift=None if uplift is None else uplift.estimate,
        relative_uplift_interval=None
        if uplift is None
        else (uplift.interval.low, uplift.interval.high),
        note=note,
    )


def summarise(
    experiment: Experiment,
    counts: dict[str, ArmCounts],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    notes: list[str] | None = None,
) -> ExperimentResults:
    """Results from the counts recorded per arm name (arms with no record count zero)."""
    arms = [
        _arm_result(experiment, a.name, counts.get(a.name, ArmCounts()), confidence)
        for a in experiment.arms
    ]
    control = arms[0]
    known = {a.name for a in experiment.arms}
    return ExperimentResults(
        experiment_id=experiment.experiment_id,
        name=experiment.name,
        behaviour=experiment.behaviour,
        status=experiment.status,
        version=experiment.version,
        started_at=experiment.started_at,
        stopped_at=experiment.stopped_at,
        confidence=confidence,
        model=model_description(confidence),
        relative_uplift_model=uplift_model_description(confidence),
        control=control.arm,
        outcome="save" if experiment.behaviour == "retention" else "conversion",
        arms=arms,
        comparisons=[_compare(a, control, confidence) for a in arms[1:]],
        unknown_arms={k: v.exposures for k, v in sorted(counts.items()) if k not in known},
        notes=list(notes or []),
    )
