"""Probability calibration and the decision thresholds read off the measured reliability curve."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sklearn.isotonic import IsotonicRegression

# A wrong action is worse than a question: below this local accuracy we ask instead of acting.
CLARIFY_TARGET_ACCURACY = 0.90
# Share of genuine support requests we accept losing to the out-of-scope reply.
MAX_IN_SCOPE_REJECTION = 0.02
# Share of natural messages (in scope and out of scope) we accept the engine acting on with a
# wrong intent (issue 11's target is 2%; a little margin for text unlike the validation part).
NATURAL_WRONG_ACTION = 0.015
# Above this the agent would ask about too many clear requests (a question costs a turn, a
# confident clear request should not need one): the natural gate never asks for more. At 0.90
# a change of mind ("rather than cancelling, I'd like to change the shipping address", ~0.87)
# was asked about instead of switched to; 0.85 costs ~0.3 points of wrong action on validation.
CLARIFY_CAP = 0.85


def softmax(scores: NDArray[np.float64], temperature: float) -> NDArray[np.float64]:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
    return out


def fit_temperature(scores: NDArray[np.float64], y: NDArray[np.int64]) -> float:
    """Temperature minimising held-out negative log-likelihood (one parameter: cannot overfit)."""
    grid = np.exp(np.linspace(np.log(0.02), np.log(5.0), 120))
    rows = np.arange(len(y))

    def nll(t: float) -> float:
        p = softmax(scores, t)[rows, y]
        return float(-np.log(np.clip(p, 1e-12, 1.0)).mean())

    best = min(grid, key=nll)
    # Refine around the best grid point.
    fine = np.linspace(best * 0.9, best * 1.1, 41)
    return float(min(fine, key=nll))


@dataclass(frozen=True)
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    confidence: float
    accuracy: float


def reliability(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_], n_bins: int = 10
) -> list[ReliabilityBin]:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    out = []
    for lo, hi in itertools.pairwise(edges):
        mask = (confidence > lo) & (confidence <= hi) if lo > 0 else confidence <= hi
        n = int(mask.sum())
        out.append(
            ReliabilityBin(
                lower=float(lo),
                upper=float(hi),
                count=n,
                confidence=float(confidence[mask].mean()) if n else 0.0,
                accuracy=float(correct[mask].mean()) if n else 0.0,
            )
        )
    return out


def expected_calibration_error(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_], n_bins: int = 15
) -> float:
    total = len(confidence)
    if total == 0:
        return 0.0
    bins = reliability(confidence, correct, n_bins)
    return float(sum(b.count / total * abs(b.accuracy - b.confidence) for b in bins))


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds, chosen on the calibration split (see ``choose_thresholds``)."""

    clarify_below: float
    out_of_scope_below: float
    temperature: float
    anger_below: float = -0.7
    ece_before: float = 0.0
    ece_after: float = 0.0
    curve: list[ReliabilityBin] = field(default_factory=list)


def choose_clarify_below(confidence: NDArray[np.float64], correct: NDArray[np.bool_]) -> float:
    """Lowest confidence at which the (isotonic) reliability curve reaches the target accuracy."""
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(confidence, correct.astype(float))
    grid = np.linspace(0.0, 1.0, 201)
    acc = iso.predict(grid)
    ok = np.nonzero(acc >= CLARIFY_TARGET_ACCURACY)[0]
    return float(grid[ok[0]]) if len(ok) else 1.0


def choose_clarify_for_wrong_action(
    confidence: NDArray[np.float64],
    acted_wrong: NDArray[np.bool_],
    target: float = NATURAL_WRONG_ACTION,
    cap: float = CLARIFY_CAP,
) -> float:
    """Lowest clarify threshold at which acting (confidence at or above it) on a wrong intent
    happens for at most ``target`` of the messages; ``cap`` when none below it does.

    ``acted_wrong`` marks messages the engine would act on with a wrong intent if it never asked
    (an in-scope intent that is not the gold one; any in-scope intent for out-of-scope text).
    """
    if len(confidence) == 0:
        return 0.0
    for t in np.linspace(0.0, cap, round(cap / 0.005) + 1):
        if float((acted_wrong & (confidence >= t)).mean()) <= target:
            return float(t)
    return cap


def choose_oos_threshold(
    in_scope_score: NDArray[np.float64], is_in_scope: NDArray[np.bool_]
) -> float:
    """Rejection threshold maximising Youden's J (OOS recall + in-scope retention - 1).

    ``in_scope_score`` is the highest in-scope probability, or 0 when the model's top class is
    out_of_scope (always rejected); a message is rejected when its score is below the threshold.
    Both error kinds cost a turn of conversation, so neither is favoured; ties go to the lower
    threshold, which rejects fewer genuine requests.
    """
    genuine = in_scope_score[is_in_scope]
    other = in_scope_score[~is_in_scope]
    if len(genuine) == 0 or len(other) == 0:
        return 0.0
    best_t, best_j = 0.0, -1.0
    for t in np.linspace(0.0, 0.99, 100):
        j = float((other < t).mean() + (genuine >= t).mean() - 1.0)
        if j > best_j + 1e-9:
            best_t, best_j = float(t), j
    return best_t
