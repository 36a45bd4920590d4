"""Train the local intent model from the shipped data, choose its thresholds, cache it on disk.

Two fits: one on the train split, whose calibration-split predictions set the temperature and the
thresholds; then the shipped model is refitted on train + calibration with the same settings. The
test split is never trained on, so ``evaluate`` can measure the shipped model itself on it.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import joblib
import numpy as np

from supportflow.understanding import calibration, signals
from supportflow.understanding.augment import typo_variants
from supportflow.understanding.corpus import OUT_OF_SCOPE, Example, build_corpus
from supportflow.understanding.model import IntentModel
from supportflow.understanding.shopper import SOURCE as SHOPPER_SOURCE
from supportflow.understanding.shopper import shopper_validation
from supportflow.understanding.splits import Splits, split_by_family

CACHE_ENV = "SUPPORTFLOW_MODEL_CACHE_DIR"
# Bump when a change to the training code should invalidate cached models.
MODEL_VERSION = "2"
_CODE_MODULES = (
    "corpus.py",
    "templates.py",
    "features.py",
    "model.py",
    "calibration.py",
    "splits.py",
    "train.py",
    "signals.py",
    "shopper.py",
    "augment.py",
)
# Hand-written shopper messages are few next to the template and CLINC text: each weighs more
# and is also seen with typos. CLINC's out-of-scope examples weigh more than the templates, so the
# extra in-scope weight does not pull everyday requests of other kinds into scope. Chosen on the
# shopper validation families, with the template test split checked (see PROVENANCE.md). With the
# fifth batch (twice the messages) weight 8 and three copies read validation as well as 16 and six
# did, and train in about half the time.
SHOPPER_WEIGHT = 8.0
SHOPPER_TYPO_COPIES = 3
OOS_WEIGHT = 4.0
_DATA_FILES = (
    "bitext_v11_26872.csv.gz",
    "clinc150_train_val.json.gz",
    "shopper_messages.txt",
    "shopper_messages_2.txt",
)


def fingerprint() -> str:
    """Hash of the training data and code: a changed input gets a new cache file."""
    h = hashlib.sha256(MODEL_VERSION.encode())
    pkg = resources.files("supportflow.understanding")
    for name in _CODE_MODULES:
        h.update(pkg.joinpath(name).read_bytes())
    for name in _DATA_FILES:
        h.update(pkg.joinpath(f"data/{name}").read_bytes())
    h.update(resources.files("supportflow.demo_store").joinpath("seed/db.json.gz").read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "supportflow"


def model_path() -> Path:
    return cache_dir() / f"understanding-{fingerprint()}.joblib"


def calibrate(
    model: IntentModel, calib: list[Example], natural: list[Example] | None = None
) -> calibration.Thresholds:
    """Temperature by held-out likelihood; thresholds read off the held-out reliability curve.

    ``natural`` (held-out shopper messages) stands for the in-scope side when choosing the
    thresholds: template messages score near 1, so thresholds chosen on them reject real
    customers' moderate-confidence requests (issue 11). Out-of-scope stays CLINC's crowd text.
    """
    index = {c: i for i, c in enumerate(model.classes)}
    natural_kept = [e for e in natural or [] if e.intent in index]
    kept = [e for e in calib if e.intent in index] + natural_kept
    texts = [e.text for e in kept]
    y = np.array([index[e.intent] for e in kept], dtype=np.int64)
    scores = model.scores(texts)
    raw = calibration.softmax(scores, 1.0)
    # The temperature is fitted on the calibration split alone, as before natural text was added:
    # the clarify threshold is read off that split's curve, so both must describe the same text.
    n_calib = len(kept) - len(natural_kept)
    temperature = calibration.fit_temperature(scores[:n_calib], y[:n_calib])
    proba = calibration.softmax(scores, temperature)

    top = proba.argmax(axis=1)
    conf = proba.max(axis=1)
    correct = top == y
    in_scope = np.array([e.intent != OUT_OF_SCOPE for e in kept])
    in_scope_score = np.where(top == model.oos_index, 0.0, conf)
    # Which messages speak for each side: natural in-scope text when there is some.
    is_natural = np.arange(len(kept)) >= len(kept) - len(natural_kept)
    judge = (is_natural | ~in_scope) if natural_kept else np.ones(len(kept), dtype=bool)
    oos_below = calibration.choose_oos_threshold(in_scope_score[judge], in_scope[judge])

    # The clarify threshold applies to in-scope requests the engine keeps: which of our intents
    # is meant. Out-of-scope messages kept in scope are the out-of-scope threshold's business;
    # counting them here too put it at ~0.93 and the agent asked about clear requests. It stays
    # read off the template curve: on the shopper messages, a 2% wrong-action rate needed ~0.96.
    kept_mask = (top != model.oos_index) & (conf >= oos_below) & ~is_natural & in_scope
    clarify = calibration.choose_clarify_below(conf[kept_mask], correct[kept_mask])
    # On natural text the template curve's threshold lets confident mistakes through (a wrong
    # action on 6% of natural messages, issue 11): raise it until acting on a wrong intent is rare
    # on the held-out shopper messages, out-of-scope ones included, up to a cap.
    acted_wrong = (top != model.oos_index) & (conf >= oos_below) & ~correct
    natural_clarify = calibration.choose_clarify_for_wrong_action(
        conf[is_natural], acted_wrong[is_natural]
    )
    return calibration.Thresholds(
        clarify_below=max(clarify, natural_clarify, oos_below),
        out_of_scope_below=oos_below,
        temperature=temperature,
        # Anger and calibration figures stay on the calibration split, comparable with before.
        anger_below=signals.choose_anger_below(
            e.text for e in kept[:n_calib] if e.intent != OUT_OF_SCOPE
        ),
        ece_before=calibration.expected_calibration_error(
            raw[:n_calib].max(axis=1), raw[:n_calib].argmax(axis=1) == y[:n_calib]
        ),
        ece_after=calibration.expected_calibration_error(conf[:n_calib], correct[:n_calib]),
        curve=calibration.reliability(conf[:n_calib], correct[:n_calib]),
    )


def training_set(examples: list[Example]) -> tuple[list[str], list[str], list[float]]:
    """Texts, labels and weights: hand-written shopper messages weigh more and get typo copies."""
    texts, labels, weights = [], [], []
    for e in examples:
        texts.append(e.text)
        labels.append(e.intent)
        if e.source != SHOPPER_SOURCE:
            weights.append(OOS_WEIGHT if e.intent == OUT_OF_SCOPE else 1.0)
            continue
        weights.append(SHOPPER_WEIGHT)
        for variant in typo_variants(e.text, SHOPPER_TYPO_COPIES, seed=0):
            texts.append(variant)
            labels.append(e.intent)
            weights.append(SHOPPER_WEIGHT)
    return texts, labels, weights


def fit_examples(examples: list[Example]) -> IntentModel:
    return IntentModel.fit(*training_set(examples))


def fit_calibrated(splits: Splits) -> IntentModel:
    """Model trained on the train split only, calibrated on the calibration split."""
    model = fit_examples(splits.train)
    model.thresholds = calibrate(model, splits.calib, shopper_validation())
    return model


@dataclass(frozen=True)
class TrainResult:
    path: Path
    seconds: float
    model: IntentModel


def train_model() -> IntentModel:
    splits = split_by_family(build_corpus())
    probe = fit_calibrated(splits)
    seen = splits.train + splits.calib
    final = fit_examples(seen)
    # Same hyper-parameters and 20% more data; the probe's temperature and thresholds carry over
    # (evaluate measures the shipped model with them on the test split, so drift would show).
    final.thresholds = replace(probe.thresholds)
    return final


def train_and_save(path: Path | None = None) -> TrainResult:
    start = time.perf_counter()
    model = train_model()
    target = path or model_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent reader never loads a half-written file.
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    joblib.dump(model, tmp, compress=3)
    tmp.replace(target)
    if path is None:
        # Models from older code or data are never loaded again; do not let them pile up.
        for old in target.parent.glob("understanding-*.joblib"):
            if old != target:
                old.unlink(missing_ok=True)
    return TrainResult(path=target, seconds=time.perf_counter() - start, model=model)


def load_or_train(path: Path | None = None) -> IntentModel:
    target = path or model_path()
    if target.exists():
        try:
            loaded = joblib.load(target)
            if isinstance(loaded, IntentModel):
                return loaded
        except Exception:  # a corrupt or stale cache is simply rebuilt
            pass
    return train_and_save(target).model
