"""The guard's rule: when the last hour's refunds, or store errors, are far above the tenant's
own baseline, tighten the policy on its own (docs/management.md, "Guard").

A kind trips when, for the last 60 minutes,

    value > mean + sigmas * sd   (of the same metric per hour over the baseline days)
    and value >= the rule's floor (min_count; for refund amounts, min_amount)

The baseline is every whole hour of the ``baseline_days`` before the hour the window began in
(hours with nothing count as zero), so the window never counts in its own baseline. Refunds
trip on their count or on their amount; store errors on their count. A kind with an active
guard does not trip again: a person lifts it first, and after a lift only what happens after
it counts towards the next trip (the window starts at the lift).

Effects: a refund spike makes every action that can refund need an operator's approval; a
store-error burst pauses the writes that failed (all policy-governed writes when the errors
do not say which), so those requests go to a person while the store misbehaves. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from supportflow.management.config import ManagementConfig, SpikeRule
from supportflow.management.metrics import hour_of, series
from supportflow.policy.guards import REFUND_ACTIONS, GuardEffectKind, policy_actions_of

GuardKind = Literal["refund_spike", "store_error_burst"]
GUARD_KINDS: tuple[GuardKind, ...] = ("refund_spike", "store_error_burst")


@dataclass(frozen=True)
class Baseline:
    mean: float
    sd: float
    hours: int


def baseline(values: Sequence[float]) -> Baseline:
    """Mean and (population) standard deviation of hourly values."""
    n = len(values)
    if n == 0:
        return Baseline(0.0, 0.0, 0)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
    return Baseline(mean, sd, n)


@dataclass(frozen=True)
class Finding:
    """One metric's last hour against its baseline."""

    metric: str
    value: float
    base: Baseline
    sigmas: float
    floor: float

    @property
    def threshold(self) -> float:
        return self.base.mean + self.sigmas * self.base.sd

    @property
    def tripped(self) -> bool:
        return self.value > self.threshold and self.value >= self.floor

    def sentence(self) -> str:
        return (
            f"{self.metric}: {_num(self.value)} in the last hour; baseline "
            f"{_num(self.base.mean)} ± {_num(self.base.sd)} per hour over {self.base.hours} "
            f"hours; trips above {_num(self.threshold)} and at {_num(self.floor)} or more"
        )


@dataclass(frozen=True)
class LastHourCounts:
    """What happened in the window (the last 60 minutes, or since a lift)."""

    end: datetime
    refunds: int
    refund_amount: float
    store_errors: int
    # Store writes named by the errors (``StoreAction`` values), when they said.
    error_actions: Collection[str] = ()


@dataclass(frozen=True)
class GuardDecision:
    kind: GuardKind
    effect: GuardEffectKind
    actions: frozenset[str]
    findings: tuple[Finding, ...]

    @property
    def reason(self) -> str:
        tripped = [f.sentence() for f in self.findings if f.tripped]
        return "; ".join(tripped)[:500]

    def details(self) -> dict[str, float | int | str]:
        """Numbers for the audit entry (ids and amounts only)."""
        out: dict[str, float | int | str] = {"kind": self.kind, "effect": self.effect}
        for f in self.findings:
            out[f"{f.metric}"] = round(f.value, 2)
            out[f"{f.metric}_threshold"] = round(f.threshold, 2)
            out[f"{f.metric}_floor"] = round(f.floor, 2)
        return out


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if not x.is_integer() else f"{int(x)}"


def _baseline_of(
    buckets: Mapping[int, Mapping[str, float]], name: str, end: datetime, days: int
) -> Baseline:
    # The window (last 60 minutes) touches the hour it ends in and the one before it: the
    # baseline is the whole hours before those.
    last = hour_of(end) - 2
    return baseline(series(buckets, name, last - 24 * days + 1, last))


def _finding(
    buckets: Mapping[int, Mapping[str, float]],
    metric: str,
    value: float,
    rule: SpikeRule,
    end: datetime,
    floor: float,
) -> Finding:
    return Finding(
        metric, value, _baseline_of(buckets, metric, end, rule.baseline_days), rule.sigmas, floor
    )


def check_refunds(
    buckets: Mapping[int, Mapping[str, float]], now: LastHourCounts, rule: SpikeRule
) -> GuardDecision | None:
    findings = (
        _finding(buckets, "refunds", float(now.refunds), rule, now.end, float(rule.min_count)),
        _finding(buckets, "refund_amount", now.refund_amount, rule, now.end, rule.min_amount),
    )
    if not any(f.tripped for f in findings):
        return None
    return GuardDecision("refund_spike", "require_approval", frozenset(REFUND_ACTIONS), findings)


def check_store_errors(
    buckets: Mapping[int, Mapping[str, float]], now: LastHourCounts, rule: SpikeRule
) -> GuardDecision | None:
    finding = _finding(
        buckets, "store_errors", float(now.store_errors), rule, now.end, float(rule.min_count)
    )
    if not finding.tripped:
        return None
    return GuardDecision(
        "store_error_burst", "pause", frozenset(policy_actions_of(now.error_actions)), (finding,)
    )


def decide(
    buckets: Mapping[int, Mapping[str, float]],
    now: LastHourCounts,
    config: ManagementConfig,
    active: Collection[str],
) -> list[GuardDecision]:
    """The guards to trip now: none while the guard is off, none of a kind already active."""
    if not config.guard_enabled:
        return []
    found: list[GuardDecision] = []
    if "refund_spike" not in active:
        refund = check_refunds(buckets, now, config.refund_spike)
        if refund is not None:
            found.append(refund)
    if "store_error_burst" not in active:
        errors = check_store_errors(buckets, now, config.store_error_burst)
        if errors is not None:
            found.append(errors)
    return found
