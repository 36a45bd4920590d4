"""Confidence intervals for conversion rates and their differences: plain functions of counts.

- ``wilson``: the Wilson (1927) score interval for one proportion, without continuity
  correction (method 3 of Newcombe 1998a). Unlike the textbook Wald interval it stays inside
  [0, 1] and keeps its coverage near 0/n and n/n, which small arms of a shop's experiment
  hit often.
- ``newcombe_difference``: Newcombe's hybrid score interval for p1 - p2 of two independent
  proportions (method 10 of Newcombe 1998b), built from the two Wilson intervals.
- ``mover_r_ratio`` / ``relative_uplift``: the MOVER-R interval for the ratio p1 / p2 from
  the same two Wilson intervals (Donner & Zou 2012; "MOVER-R Wilson" in Fagerland, Lydersen &
  Laake 2017), and the relative uplift p1 / p2 - 1 from it. Only when the reference arm has
  at least one success: with none, the ratio has no finite upper limit and is not reported.

References:
  Wilson EB (1927) J Am Stat Assoc 22:209-212.
  Newcombe RG (1998a) Two-sided confidence intervals for the single proportion: comparison
    of seven methods. Stat Med 17:857-872.
  Newcombe RG (1998b) Interval estimation for the difference between independent
    proportions: comparison of eleven methods. Stat Med 17:873-890.
  Donner A, Zou GY (2012) Closed-form confidence intervals for functions of the normal mean
    and standard deviation. Stat Methods Med Res 21:347-359 (MOVER-R).
  Fagerland MW, Lydersen S, Laake P (2017) Statistical Analysis of Contingency Tables. CRC.

Pure: no I/O, no Temporal, no database. Counts in, floats out; an empty arm (0/0) has no
estimate rather than a division error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def as_list(self) -> list[float]:
        return [self.low, self.high]


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``trials``: the estimate (None for 0/0) and its Wilson interval
    ([0, 1] for 0/0: no data rules nothing out)."""

    successes: int
    trials: int
    estimate: float | None
    interval: Interval
    confidence: float


@dataclass(frozen=True)
class Comparison:
    """An estimate (a difference or a relative uplift) with its interval."""

    estimate: float
    interval: Interval
    confidence: float


def z_value(confidence: float = DEFAULT_CONFIDENCE) -> float:
    """The two-sided standard normal quantile for ``confidence`` (1.959964 for 0.95)."""
    if not isinstance(confidence, int | float) or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), not {confidence!r}")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def _check_counts(successes: int, trials: int) -> None:
    for name, value in (("successes", successes), ("trials", trials)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number, not {value!r}")
        if value < 0:
            raise ValueError(f"{name} must not be negative, not {value}")
    if successes > trials:
        raise ValueError(f"successes ({successes}) cannot exceed trials ({trials})")


def wilson(successes: int, trials: int, confidence: float = DEFAULT_CONFIDENCE) -> Proportion:
    """The Wilson score interval for ``successes``/``trials``."""
    _check_counts(successes, trials)
    z = z_value(confidence)
    if trials == 0:
        return Proportion(0, 0, None, Interval(0.0, 1.0), confidence)
    n = float(trials)
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = (z / denominator) * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    # At 0/n and n/n the limit that touches the boundary is exactly the boundary; rounding
    # would otherwise leave 1e-17 or 0.9999999999999999.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Proportion(successes, trials, p, Interval(low, high), confidence)


def newcombe_difference(
    successes_1: int,
    trials_1: int,
    successes_2: int,
    trials_2: int,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Comparison | None:
    """Newcombe's hybrid score interval for p1 - p2 (method 10); None when either group is
    empty (0 trials: there is no estimate to compare)."""
    a = wilson(successes_1, trials_1, confidence)
    b = wilson(successes_2, trials_2, confidence)
    if a.estimate is None or b.estimate is None:
        return None
    p1, p2 = a.estimate, b.estimate
    l1, u1 = a.interval.low, a.interval.high
    l2, u2 = b.interval.low, b.interval.high
    estimate = p1 - p2
    delta = math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    epsilon = math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Comparison(
        estimate,
        Interval(max(-1.0, estimate - delta), min(1.0, estimate + epsilon)),
        confidence,
    )


def _quadratic_root(a: float, b: float, c: float, *, upper: bool) -> float:
    """The MOVER-R root of a*x^2 - 2*b*x + c = 0: (b -/+ sqrt(b^2 - a*c)) / a, written as
    c / (b +/- sqrt(...)) for the lower root so it holds when ``a`` is 0 or tiny."""
    root = math.sqrt(max(0.0, b * b - a * c))
    if upper:
        return (b + root) / a
    denominator = b + root
    return 0.0 if denominator == 0.0 else c / denominator


def mover_r_ratio(
    successes_1: int,
    trials_1: int,
    successes_2: int,
    trials_2: int,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Comparison | None:
    """The MOVER-R Wilson interval for p1 / p2; None when group 2 has no successes (the
    ratio, or its upper limit, is unbounded) or either group is empty."""
    a = wilson(successes_1, trials_1, confidence)
    b = wilson(successes_2, trials_2, confidence)
    if a.estimate is None or b.estimate is None or successes_2 == 0:
        return None
    p1, p2 = a.estimate, b.estimate
    l1, u1 = a.interval.low, a.interval.high
    l2, u2 = b.interval.low, b.interval.high
    product = p1 * p2
    # Lower limit: root of u2(2p2 - u2) x^2 - 2 p1 p2 x + l1(2p1 - l1) = 0.
    low = _quadratic_root(u2 * (2 * p2 - u2), product, l1 * (2 * p1 - l1), upper=False)
    # Upper limit: root of l2(2p2 - l2) x^2 - 2 p1 p2 x + u1(2p1 - u1) = 0; l2 > 0 here.
    high = _quadratic_root(l2 * (2 * p2 - l2), product, u1 * (2 * p1 - u1), upper=True)
    return Comparison(p1 / p2, Interval(max(0.0, low), high), confidence)


def relative_uplift(
    successes_1: int,
    trials_1: int,
    successes_2: int,
    trials_2: int,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Comparison | None:
    """p1 / p2 - 1 (group 1 against the reference group 2) with the MOVER-R Wilson interval
    shifted by one; None whenever ``mover_r_ratio`` is."""
    ratio = mover_r_ratio(successes_1, trials_1, successes_2, trials_2, confidence)
    if ratio is None:
        return None
    return Comparison(
        ratio.estimate - 1.0,
        Interval(ratio.interval.low - 1.0, ratio.interval.high - 1.0),
        confidence,
    )
