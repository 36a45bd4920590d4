"""The intent classifier: TF-IDF features, a linear SVM, temperature-scaled probabilities.

A linear SVM trains in seconds on ~45k messages; a single temperature fitted on held-out data turns
its scores into calibrated probabilities (cheaper at prediction time than CalibratedClassifierCV,
which runs one model per fold). Single messages take a hand-written scoring path because
scikit-learn's per-call validation costs more than the arithmetic (milliseconds vs ~100 us).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from supportflow.understanding.calibration import Thresholds, softmax
from supportflow.understanding.corpus import OUT_OF_SCOPE
from supportflow.understanding.features import build_vectorizers, normalise

SVM_C = 0.5
SEED = 0


@dataclass
class Decision:
    intent: str
    confidence: float
    # Highest in-scope probability, or 0 when the top class is out_of_scope.
    in_scope_score: float


class _Block:
    """One vectoriser and its slice of the SVM weights, with a fast single-message path."""

    def __init__(self, vectorizer: TfidfVectorizer, coef_t: NDArray[np.float32]) -> None:
        self.vectorizer = vectorizer
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float32)
        # (features x classes), so a message's weights are a row gather.
        self.coef_t = np.ascontiguousarray(coef_t, dtype=np.float32)
        self._analyze: Callable[[str], list[str]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_analyze"] = None  # a closure; rebuilt after loading
        return state

    def score_one(self, text: str) -> NDArray[np.float32]:
        if self._analyze is None:
            self._analyze = self.vectorizer.build_analyzer()
        vocab = self.vocabulary
        counts = Counter(vocab[g] for g in self._analyze(text) if g in vocab)
        if not counts:
            return np.zeros(self.coef_t.shape[1], dtype=np.float32)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(
            (1.0 + math.log(c) for c in counts.values()), dtype=np.float32, count=len(counts)
        )
        w: NDArray[np.float32] = tf * self.idf[idx]
        w = w / np.float32(np.linalg.norm(w))
        out: NDArray[np.float32] = w @ self.coef_t[idx]
        return out


class IntentModel:
    def __init__(
        self, blocks: list[_Block], intercept: NDArray[np.float32], classes: list[str]
    ) -> None:
        self.blocks = blocks
        self.intercept = intercept
        self.classes = classes
        self.oos_index = classes.index(OUT_OF_SCOPE)
        self.thresholds = Thresholds(clarify_below=0.0, out_of_scope_below=0.0, temperature=1.0)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        weights: Sequence[float] | None = None,
    ) -> IntentModel:
        normed = [normalise(t) for t in texts]
        vectorizers = build_vectorizers()
        x = sp.hstack([v.fit_transform(normed) for v in vectorizers]).tocsr()
        svm = LinearSVC(C=SVM_C, random_state=SEED)
        svm.fit(x, list(labels), sample_weight=None if weights is None else np.asarray(weights))
        # float32 halves the memory of the weight matrix; scores need no double precision.
        coef = np.asarray(svm.coef_, dtype=np.float32)
        blocks, start = [], 0
        for v in vectorizers:
            width = len(v.vocabulary_)
            blocks.append(_Block(v, coef[:, start : start + width].T))
            start += width
        return cls(
            blocks, np.asarray(svm.intercept_, dtype=np.float32), [str(c) for c in svm.classes_]
        )

    def scores(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Batch path (training, evaluation)."""
        normed = [normalise(t) for t in texts]
        total = np.zeros((len(normed), len(self.classes)), dtype=np.float64)
        for b in self.blocks:
            total += np.asarray(b.vectorizer.transform(normed) @ b.coef_t, dtype=np.float64)
        out: NDArray[np.float64] = total + self.intercept
        return out

    def scores_one(self, text: str) -> NDArray[np.float64]:
        normed = normalise(text)
        total: NDArray[np.float64] = self.intercept.astype(np.float64)
        for b in self.blocks:
            total = total + b.score_one(normed)
        return total

    def proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        return softmax(self.scores(texts), self.thresholds.temperature)

    def proba_one(self, text: str) -> NDArray[np.float64]:
        row: NDArray[np.float64] = softmax(
            self.scores_one(text)[None, :], self.thresholds.temperature
        )[0]
        return row

    def decide_row(self, p: NDArray[np.float64]) -> Decision:
        """Top intent, with out-of-scope rejection below the measured threshold."""
        top = int(np.argmax(p))
        if top == self.oos_index:
            return Decision(OUT_OF_SCOPE, float(p[top]), 0.0)
        score = float(p[top])
        if score < self.thresholds.out_of_scope_below:
            # The model's doubt is the evidence for "out of scope".
            return Decision(OUT_OF_SCOPE, 1.0 - score, score)
        return Decision(self.classes[top], score, score)

    def decide(self, texts: Sequence[str]) -> list[Decision]:
        return [self.decide_row(row) for row in self.proba(texts)]

    def decide_one(self, text: str) -> Decision:
        return self.decide_row(self.proba_one(text))

    def nbytes(self) -> int:
        """Memory of the numeric parts (weights, idf); vocabularies come on top."""
        return int(sum(b.coef_t.nbytes + b.idf.nbytes for b in self.blocks) + self.intercept.nbytes)
