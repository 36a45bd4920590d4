"""The intervals in sales/stats.py against published worked values, and at the edges (0/0,
0/n, n/n) where naive formulas divide by zero or leave [0, 1].

Sources of the expected values (all 95%, four decimals as printed):
- Wilson score interval: Newcombe RG (1998a), "Two-sided confidence intervals for the single
  proportion: comparison of seven methods", Stat Med 17:857-872, Table I, method 3.
- Hybrid score interval for a difference: Newcombe RG (1998b), "Interval estimation for the
  difference between independent proportions: comparison of eleven methods", Stat Med
  17:873-890, Table II, method 10, examples (a)-(h).
- The Perondi et al. (2004) trial (7/34 vs 1/34) in Fagerland MW, Lydersen S, Laake P
  (2017), "Statistical Analysis of Contingency Tables", CRC, chapter 4: Newcombe hybrid score
  0.0189 to 0.3404 and MOVER-R Wilson ratio 1.1537 to 41.9763 (as the book's companion R
  package, contingencytables, checks in tests/testthat/test-ch4.R).
"""

from __future__ import annotations

import math

import pytest

from supportflow.sales.stats import (
    mover_r_ratio,
    newcombe_difference,
    relative_uplift,
    wilson,
    z_value,
)


def _rounded(low: float, high: float) -> tuple[float, float]:
    return round(low, 4), round(high, 4)


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_1998a_table_i(x: int, n: int, low: float, high: float) -> None:
    got = wilson(x, n)
    assert got.estimate == x / n
    assert _rounded(got.interval.low, got.interval.high) == (low, high)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),  # (a)
        (9, 10, 3, 10, 0.1705, 0.8090),  # (b)
        (6, 7, 2, 7, 0.0582, 0.8062),  # (c)
        (5, 56, 0, 29, -0.0381, 0.1926),  # (d)
        (0, 10, 0, 20, -0.1611, 0.2775),  # (e)
        (0, 10, 0, 10, -0.2775, 0.2775),  # (f)
        (10, 10, 0, 20, 0.6791, 1.0000),  # (g)
        (10, 10, 0, 10, 0.6075, 1.0000),  # (h)
        (7, 34, 1, 34, 0.0189, 0.3404),  # Perondi et al. 2004, Fagerland et al. 2017
    ],
)
def test_newcombe_hybrid_score_matches_published_examples(
    x1: int, n1: int, x2: int, n2: int, low: float, high: float
) -> None:
    got = newcombe_difference(x1, n1, x2, n2)
    assert got is not None
    assert got.estimate == pytest.approx(x1 / n1 - x2 / n2)
    assert _rounded(got.interval.low, got.interval.high) == (low, high)


def test_mover_r_ratio_matches_fagerland_2017() -> None:
    got = mover_r_ratio(7, 34, 1, 34)
    assert got is not None
    assert got.estimate == pytest.approx(7.0)
    assert _rounded(got.interval.low, got.interval.high) == (1.1537, 41.9763)
    uplift = relative_uplift(7, 34, 1, 34)
    assert uplift is not None
    assert uplift.estimate == pytest.approx(6.0)
    assert uplift.interval.low == pytest.approx(got.interval.low - 1)
    assert uplift.interval.high == pytest.approx(got.interval.high - 1)


def test_z_for_any_confidence() -> None:
    assert z_value() == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.90) == pytest.approx(1.644854, abs=1e-6)
    assert z_value(0.99) == pytest.approx(2.575829, abs=1e-6)
    for bad in (0, 1, 1.5, -0.1, math.nan):
        with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
            z_value(bad)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize(("x", "n"), [(1, 7), (13, 40), (250, 1000), (39, 40)])
def test_wilson_limits_are_where_the_score_test_is_exactly_z(
    confidence: float, x: int, n: int
) -> None:
    """Wilson's definition at any level: each limit p solves |x/n - p| = z sqrt(p(1-p)/n)."""
    z = z_value(confidence)
    got = wilson(x, n, confidence)
    for p in (got.interval.low, got.interval.high):
        assert abs(x / n - p) == pytest.approx(z * math.sqrt(p * (1 - p) / n), rel=1e-9)
    wider = wilson(x, n, min(0.9999, confidence + 0.0005))
    assert wider.interval.low < got.interval.low < x / n < got.interval.high < wider.interval.high


def test_edges_without_division_errors() -> None:
    empty = wilson(0, 0)
    assert empty.estimate is None
    assert (empty.interval.low, empty.interval.high) == (0.0, 1.0)
    none = wilson(0, 50)
    assert none.estimate == 0.0 and none.interval.low == 0.0 and 0 < none.interval.high < 0.1
    every = wilson(50, 50)
    assert every.estimate == 1.0 and every.interval.high == 1.0 and 0.9 < every.interval.low < 1
    # Differences with an empty group have no estimate; with 0/n or n/n they stay in [-1, 1].
    assert newcombe_difference(0, 0, 3, 10) is None
    assert newcombe_difference(3, 10, 0, 0) is None
    both_full = newcombe_difference(10, 10, 10, 10)
    assert both_full is not None and both_full.estimate == 0.0
    assert -1.0 <= both_full.interval.low < 0 < both_full.interval.high <= 1.0
    # The ratio needs a control conversion; a treatment with none gives a lower limit of 0.
    assert mover_r_ratio(5, 10, 0, 10) is None
    assert relative_uplift(5, 10, 0, 10) is None
    assert mover_r_ratio(0, 0, 1, 10) is None
    zero_treatment = mover_r_ratio(0, 10, 3, 10)
    assert zero_treatment is not None and zero_treatment.estimate == 0.0
    assert zero_treatment.interval.low == 0.0 and math.isfinite(zero_treatment.interval.high)


@pytest.mark.parametrize(
    ("x", "n", "message"),
    [
        (5, 3, "cannot exceed trials"),
        (-1, 3, "must not be negative"),
        (1.5, 3, "whole number"),
        (True, 3, "whole number"),
    ],
)
def test_bad_counts_are_refused(x: object, n: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        wilson(x, n)  # type: ignore[arg-type]


def test_ratio_interval_holds_where_the_closed_form_divides_by_zero() -> None:
    """u2 = 2 p2 makes the textbook lower-limit formula 0/0; the rationalised one is fine."""
    for x2 in range(1, 30):
        for x1 in range(0, 30, 3):
            got = mover_r_ratio(x1, 30, x2, 30)
            assert got is not None
            assert 0.0 <= got.interval.low <= got.estimate <= got.interval.high < math.inf
