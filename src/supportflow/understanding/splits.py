"""Family-aware train / calibration / test splits.

Families never straddle a split, so test messages are paraphrase patterns (and, for out-of-scope,
CLINC domains) the model has not seen. Splitting is per intent, so every intent is represented in
every split.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from supportflow.understanding.corpus import Example

# CLINC ships its out-of-scope examples pre-split; keep that split rather than re-drawing it.
_FORCED = {"clinc:oos_train": "train", "clinc:oos_val": "test"}
# Hand-written shopper messages always train: their held-out families are a separate file part
# (``shopper.shopper_validation``), so the template test split stays what it measured before.
_ALWAYS_TRAIN = "shopper:"


@dataclass(frozen=True)
class Splits:
    train: list[Example]
    calib: list[Example]
    test: list[Example]


def _group_split(
    items: list[Example], test_size: float, seed: int
) -> tuple[list[Example], list[Example]]:
    groups = np.array([e.family for e in items])
    if len(set(groups.tolist())) < 2:
        return items, []
    gss = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_idx, test_idx = next(gss.split(np.zeros(len(items)), groups=groups))
    return [items[i] for i in train_idx], [items[i] for i in test_idx]


def split_by_family(
    examples: list[Example], test_size: float = 0.2, calib_size: float = 0.15, seed: int = 0
) -> Splits:
    by_intent: dict[str, list[Example]] = defaultdict(list)
    forced: dict[str, list[Example]] = defaultdict(list)
    for e in examples:
        if e.family in _FORCED:
            forced[_FORCED[e.family]].append(e)
        elif e.family.startswith(_ALWAYS_TRAIN):
            forced["train"].append(e)
        else:
            by_intent[e.intent].append(e)
    train, calib, test = list(forced["train"]), [], list(forced["test"])
    for offset, intent in enumerate(sorted(by_intent)):
        rest, te = _group_split(by_intent[intent], test_size, seed + offset)
        tr, ca = _group_split(rest, calib_size / (1 - test_size), seed + 1000 + offset)
        train += tr
        calib += ca
        test += te
    return Splits(train=train, calib=calib, test=test)
