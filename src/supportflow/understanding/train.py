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
from supportflow.understanding.corpus import OUT_OF_SCOPE, Example, build_corpus
from supportflow.understanding.model import IntentModel
from supportflow.understanding.splits import Splits, split_by_family

CACHE_ENV = "SUPPORTFLOW_MODEL_CACHE_DIR"
# Bump when a change to the training code should invalidate cached models.
MODEL_VERSION = "1"
_CODE_MODULES = (
    "corpus.py",
    "templates.py",
    "features.py",
    "model.py",
    "calibration.py",
    "splits.py",
    "train.py",
    "signals.py",
)
_DATA_FILES = ("bitext_v11_26872.csv.gz", "clinc150_train_val.json.gz")


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


def calibrate(model: IntentModel, calib: list[Example]) -> calibration.Thresholds:
    """Temperature by held-out likelihood; thresholds read off the held-out reliability curve."""
    index = {c: i for i, c in enumerate(model.classes)}
    kept = [e for e in calib if e.intent in index]
    texts = [e.text for e in kept]
    y = np.array([index[e.intent] for e in kept], dtype=np.int64)
    scores = model.scores(texts)
    raw = calibration.softmax(scores, 1.0)
    temperature = calibration.fit_temperature(scores, y)
    proba = calibration.softmax(scores, temperature)

    top = proba.argmax(axis=1)
    conf = proba.max(axis=1)
    correct = top == y
    in_scope = np.array([e.intent != OUT_OF_SCOPE for e in kept])
    in_scope_score = np.where(top == model.oos_index, 0.0, conf)
    oos_below = calibration.choose_oos_threshold(in_scope_score, in_scope)

    # The clarify threshold applies to messages the engine keeps in scope.
    kept_mask = (top != model.oos_index) & (conf >= oos_below)
    clarify = calibration.choose_clarify_below(conf[kept_mask], correct[kept_mask])
    return calibration.Thresholds(
        clarify_below=max(clarify, oos_below),
        out_of_scope_below=oos_below,
        temperature=temperature,
        anger_below=signals.choose_anger_below(e.text for e in kept if e.intent != OUT_OF_SCOPE),
        ece_before=calibration.expected_calibration_error(raw.max(axis=1), raw.argmax(axis=1) == y),
        ece_after=calibration.expected_calibration_error(conf, correct),
        curve=calibration.reliability(conf, correct),
    )


def fit_calibrated(splits: Splits) -> IntentModel:
    """Model trained on the train split only, calibrated on the calibration split."""
    model = IntentModel.fit([e.text for e in splits.train], [e.intent for e in splits.train])
    model.thresholds = calibrate(model, splits.calib)
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
    final = IntentModel.fit([e.text for e in seen], [e.intent for e in seen])
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
