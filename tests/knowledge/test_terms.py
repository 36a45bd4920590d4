"""Incremental indexing scores exactly as a TF-IDF fitted from scratch, and an edit re-reads
only the edited article."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from supportflow.knowledge.articles import Article, default_articles
from supportflow.knowledge.index import WORD_WEIGHT, TenantIndex, split_passages, word_terms
from supportflow.knowledge.terms import TenantAnalysis, char_terms

HERE = Path(__file__).parent
SKLEARN_CHARS = TfidfVectorizer(
    analyzer="char_wb", ngram_range=(3, 5), strip_accents="unicode"
).build_analyzer()


class _ReferencePart:
    """The index as it was before incremental indexing: scikit-learn fitted on the passages."""

    def __init__(
        self, vectorizer: TfidfVectorizer, docs: list[str], wholes: list[str], oov: Any
    ) -> None:
        self.vectorizer = vectorizer
        self.matrix = normalize(vectorizer.fit_transform(docs))
        self.whole = normalize(vectorizer.transform(wholes))
        self.analyze: Callable[[str], list[str]] = vectorizer.build_analyzer()
        self.max_idf = float(vectorizer.idf_.max())
        self.oov = oov

    def cosines(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        q = self.vectorizer.transform([query])
        unknown = Counter(
            t for t in self.analyze(query) if t not in self.vectorizer.vocabulary_ and self.oov(t)
        )
        oov = sum(((1 + math.log(c)) * self.max_idf) ** 2 for c in unknown.values())
        norm = math.sqrt(float(q.multiply(q).sum()) + oov)
        if norm == 0.0:
            return np.zeros(self.matrix.shape[0]), np.zeros(self.whole.shape[0])
        return (
            np.asarray((self.matrix @ q.T).toarray()).ravel() / norm,
            np.asarray((self.whole @ q.T).toarray()).ravel() / norm,
        )


def reference_scores(articles: Sequence[Article], query: str) -> tuple[np.ndarray, np.ndarray]:
    docs: list[str] = []
    for a in articles:
        docs.extend(" ".join([a.title, *a.tags, p]) for p in split_passages(a.body) or [a.title])
    wholes = [" ".join([a.title, *a.tags, a.body]) for a in articles]
    words = _ReferencePart(
        TfidfVectorizer(analyzer=word_terms, sublinear_tf=True, norm=None),
        docs,
        wholes,
        lambda t: " " not in t,
    )
    chars = _ReferencePart(
        TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            sublinear_tf=True,
            strip_accents="unicode",
            norm=None,
        ),
        docs,
        wholes,
        lambda t: True,
    )
    cp, cw = chars.cosines(query)
    wp, ww = words.cosines(query)
    return (
        np.clip(WORD_WEIGHT * wp + (1 - WORD_WEIGHT) * cp, 0, 1),
        np.clip(WORD_WEIGHT * ww + (1 - WORD_WEIGHT) * cw, 0, 1),
    )


def _questions() -> list[str]:
    data = json.loads((HERE / "labelled_queries.json").read_text("utf-8"))
    return [x["q"] for x in data["on_topic"]] + list(data["off_topic"])


def _article(i: int, rng: random.Random, at: datetime) -> Article:
    words = " ".join(a.body for a in default_articles()).split()
    paragraphs = [" ".join(rng.choice(words) for _ in range(rng.randint(20, 90))) for _ in range(4)]
    return Article(
        id=f"kb_{i:016x}",
        title=f"Note {i} {rng.choice(words)}",
        body="\n\n".join(paragraphs),
        tags=(rng.choice(["ship", "pay", "return"]),),
        updated_at=at,
    )


@pytest.mark.parametrize(
    "text",
    [
        "Café crème, naïve résumé — déjà vu!",
        "a an I x yz  tab\there\u00a0nbsp\u2003em-space\nnewline",
        "ORDER #W2611340 shipped 12/03; refund 5-7 days.",
        "\ufb01nancial \uff46\uff55\uff4c\uff4c Stra\u00dfe \u0130stanbul",  # ligature, fullwidth
        "",
    ],
)
def test_char_terms_are_scikit_learns(text: str) -> None:
    assert Counter(char_terms(text)) == Counter(SKLEARN_CHARS(text))


def test_scores_equal_a_fitted_tfidf() -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    tricky = [
        # A run with no space is cut inside a "word" into passages; an umlaut alone
        # (U+00A8) becomes a space when accents are stripped; a heading joins its paragraph.
        Article(id="kb_a", title="Serial", body="k" * 1500 + " then words.\n\nMore here."),
        Article(
            id="kb_b",
            title="Na\u00efve caf\u00e9",
            body="a\u00a8b c\u00a8 \u00a8d\n\n# Head\n\nBody",
        ),
        Article(id="kb_c", title="Tags", body="Shipping to Zanzibar.", tags=("ship", "zz")),
    ]
    sets = [list(default_articles()), [_article(i, rng, now) for i in range(12)], tricky]
    for articles in sets:
        index = TenantIndex(articles)
        for q in [*_questions(), "kkkkk serial then", "naive cafe ab d head", "zanzibar tags"]:
            passages, wholes = index.scores(q)
            ref_passages, ref_wholes = reference_scores(articles, q)
            np.testing.assert_allclose(passages, ref_passages, atol=1e-9)
            np.testing.assert_allclose(wholes, ref_wholes, atol=1e-9)


def test_an_edit_reads_only_that_article_and_scores_as_a_fresh_build() -> None:
    rng = random.Random(11)
    t0 = datetime.now(UTC)
    articles = [_article(i, rng, t0) for i in range(20)]
    analysis = TenantAnalysis()
    TenantIndex(articles, analysis=analysis)
    assert analysis.analysed == 20

    edited = list(articles)
    edited[3] = Article(
        id=articles[3].id,
        title="Bicycle frames",
        body="Every bicycle frame carries a lifetime warranty.",
        updated_at=t0 + timedelta(seconds=1),
    )
    del edited[7]  # and one deleted
    edited.append(_article(99, rng, t0))  # and one added
    incremental = TenantIndex(edited, analysis=analysis)
    assert analysis.analysed == 22, "only the edited and the added article were read"

    fresh = TenantIndex(edited)
    for q in [*_questions()[:20], "is the frame under warranty"]:
        for got, want in zip(incremental.scores(q), fresh.scores(q), strict=True):
            np.testing.assert_allclose(got, want, atol=1e-12)
    top = incremental.matches("is the bicycle frame under warranty", 1)[0]
    assert top.article.id == articles[3].id
