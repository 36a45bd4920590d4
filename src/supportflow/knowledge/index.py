"""TF-IDF retrieval over one tenant's articles, down to the paragraph.

Word 1-2grams catch the topic ("refund", "gift card"); character 3-5grams inside word
boundaries catch what words miss: typos, inflections ("cancelled"/"cancellation") and
run-together words. Each part is a cosine and the score is their weighted mean, in [0, 1],
so one threshold holds across tenants.

The vectorizers are fitted on the tenant's own passages (each with its article's title and
tags), so IDF reflects what tells one of the merchant's articles from another. With so few
documents most of a customer's words are out of the vocabulary, and a plain TF-IDF
transform drops them: "tell me a joke" becomes just "tell" and matches any passage that
says "tell us". So a query keeps its unknown terms as weight in its norm (at the highest
IDF, as the rarest terms): a question that is mostly about something else scores low.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
from sklearn.preprocessing import normalize

from supportflow.knowledge.articles import Article
from supportflow.knowledge.terms import (
    CHARS,
    VIEWS,
    WORDS,
    ArticleTexts,
    Counts,
    TenantAnalysis,
    View,
    Vocabulary,
    stack,
    stem,
    word_terms,
)

__all__ = [
    "Hit",
    "Match",
    "Passage",
    "TenantIndex",
    "snippet",
    "split_passages",
    "stem",
    "word_terms",
]

# Share of the score from word n-grams; the rest from character n-grams. Chosen with the
# threshold on the labelled questions in tests/knowledge/.
WORD_WEIGHT = 0.6
# A passage longer than this is split at sentence ends, so an article written as one long
# block still yields a quotable answer rather than 8 KB of text.
MAX_PASSAGE_CHARS = 700
# Customer text beyond this adds nothing to a query and only costs time.
MAX_QUERY_CHARS = 1000
SNIPPET_CHARS = 240
# Share of an article's score from its whole text; the rest from its best passage.
ARTICLE_WEIGHT = 0.3

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S")


@dataclass(frozen=True)
class Passage:
    article: int  # position in TenantIndex.articles
    text: str


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    snippet: str
    score: float


@dataclass(frozen=True)
class Match:
    """The best article for a query and its most relevant passage, quoted as written."""

    article: Article
    passage: str
    score: float


def split_passages(body: str) -> list[str]:
    """Paragraphs of a body; a lone heading joins the paragraph under it, long paragraphs
    are cut at sentence ends."""
    paragraphs = [p.strip() for p in _PARAGRAPH.split(body) if p.strip()]
    merged: list[str] = []
    heading: str | None = None
    for p in paragraphs:
        if _HEADING.match(p) and "\n" not in p:
            heading = f"{heading}\n{p}" if heading else p
            continue
        merged.append(f"{heading}\n{p}" if heading else p)
        heading = None
    if heading:
        merged.append(heading)
    out: list[str] = []
    for p in merged:
        out.extend(_cut(p) if len(p) > MAX_PASSAGE_CHARS else [p])
    return out


def _cut(text: str) -> list[str]:
    chunks: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > MAX_PASSAGE_CHARS:  # no sentence ends: cut at a space
            cut = sentence.rfind(" ", 0, MAX_PASSAGE_CHARS)
            cut = cut if cut > 0 else MAX_PASSAGE_CHARS
            if current:
                chunks.append(current)
                current = ""
            chunks.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > MAX_PASSAGE_CHARS:
            chunks.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        chunks.append(current)
    return [c for c in chunks if c]


def _texts(a: Article) -> ArticleTexts:
    """An article's passages, the document each is indexed as (with the article's title and
    tags), and the whole article's text."""
    return ArticleTexts(
        tuple(split_passages(a.body) or [a.title]), " ".join([a.title, *a.tags]), a.body
    )


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit - 1)
    return flat[: cut if cut > 0 else limit - 1] + "…"


class _Part:
    """One TF-IDF view (words or characters) of the passages, assembled from kept counts.

    The same weights as scikit-learn's TfidfVectorizer(sublinear_tf=True, norm=None) fitted
    on the passages then L2-normalised: tf = 1 + ln(count), idf = ln((1 + n) / (1 + df)) + 1,
    with the vocabulary being the terms some passage uses.
    """

    def __init__(self, view: View, vocabulary: Vocabulary, passages: Counts, wholes: Counts):
        self.view = view
        self._vocabulary = vocabulary
        size = int(max(passages.indices.max(initial=-1), wholes.indices.max(initial=-1))) + 1
        df = np.bincount(passages.indices, minlength=size)
        used = df > 0
        self.terms = int(used.sum())
        # Vocabulary id -> column of this index, -1 for a term no passage uses.
        self._column = np.full(size, -1, dtype=np.int32)
        self._column[used] = np.arange(self.terms, dtype=np.int32)
        n = passages.rows
        self._idf = np.log((1 + n) / (1 + df[used].astype(np.float64))) + 1.0
        self._max_idf = float(self._idf.max(initial=0.0))
        self.matrix: Any = self._weigh(passages)
        self.whole: Any = self._weigh(wholes)

    def _weigh(self, counts: Counts) -> Any:
        columns = self._column[counts.indices] if len(counts.indices) else counts.indices
        data, indptr = counts.data, counts.indptr
        keep = columns >= 0
        if not keep.all():  # whole-article terms no passage has (e.g. bigrams across them)
            rows = np.repeat(np.arange(counts.rows), np.diff(indptr))
            indptr = np.concatenate(
                [[0], np.cumsum(np.bincount(rows[keep], minlength=counts.rows))]
            )
            columns, data = columns[keep], data[keep]
        weights = data * self._idf[columns]
        return normalize(csr_matrix((weights, columns, indptr), shape=(counts.rows, self.terms)))

    def cosines(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """Cosines with every passage and with every whole article."""
        columns: list[int] = []
        weights: list[float] = []
        oov = 0.0
        for term, count in Counter(self.view.analyze(query)).items():
            tf = 1.0 + math.log(count)
            i = self._vocabulary.get(term)
            column = int(self._column[i]) if i is not None and i < len(self._column) else -1
            if column >= 0:
                columns.append(column)
                weights.append(tf * float(self._idf[column]))
            elif self.view.counts_as_oov(term):
                # Sublinear tf at the highest IDF, as a rare known term would weigh.
                oov += (tf * self._max_idf) ** 2
        norm = math.sqrt(sum(w * w for w in weights) + oov)
        if norm == 0.0 or not columns:
            return np.zeros(self.matrix.shape[0]), np.zeros(self.whole.shape[0])
        q = csr_matrix(
            (np.asarray(weights), np.asarray(columns), [0, len(columns)]), shape=(1, self.terms)
        )
        return (
            np.asarray((self.matrix @ q.T).toarray()).ravel() / norm,
            np.asarray((self.whole @ q.T).toarray()).ravel() / norm,
        )


class TenantIndex:
    """An immutable index of one article set. Safe to share between threads.

    Built from `analysis`, the tenant's kept term counts, reading only articles it has not
    seen in this version; without one, every article is read.
    """

    def __init__(
        self,
        articles: Sequence[Article],
        *,
        article_weight: float = ARTICLE_WEIGHT,
        analysis: TenantAnalysis | None = None,
    ) -> None:
        self.articles = tuple(articles)
        self.article_weight = article_weight
        self.chars = sum(len(a.title) + len(a.body) for a in self.articles)
        analysis = analysis or TenantAnalysis()
        with analysis.lock:
            kept = [
                analysis.terms_of(a.id, a.updated_at, functools.partial(_texts, a))
                for a in self.articles
            ]
            analysis.forget_except(a.id for a in self.articles)
        self.passages = [Passage(i, text) for i, k in enumerate(kept) for text in k.texts]
        parts = {
            v.name: _Part(
                v,
                analysis.vocabularies[v.name],
                stack([k.passages[v.name] for k in kept]),
                stack([k.whole[v.name] for k in kept]),
            )
            for v in VIEWS
        }
        # An article set of only stop words leaves no word vocabulary; it is still
        # searchable by characters.
        self._words: _Part | None = parts[WORDS.name] if parts[WORDS.name].terms else None
        self._chars: _Part | None = parts[CHARS.name] if parts[CHARS.name].terms else None
        self.terms_in_use = {name: p.terms for name, p in parts.items()}

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """Scores of every passage and every whole article for a query, each in [0, 1]."""
        query = query[:MAX_QUERY_CHARS]
        if self._chars is None or not query.strip():
            return np.zeros(len(self.passages)), np.zeros(len(self.articles))
        passages, wholes = self._chars.cosines(query)
        if self._words is not None:
            word_passages, word_wholes = self._words.cosines(query)
            passages = WORD_WEIGHT * word_passages + (1 - WORD_WEIGHT) * passages
            wholes = WORD_WEIGHT * word_wholes + (1 - WORD_WEIGHT) * wholes
        return np.clip(passages, 0.0, 1.0), np.clip(wholes, 0.0, 1.0)

    def matches(self, query: str, k: int) -> list[Match]:
        """Up to k articles, best first, each with its best passage.

        An article scores by its whole text and its best passage together: the whole text
        rewards an article about the question's topic, the passage one that answers it.
        """
        passage_scores, article_scores = self.scores(query)
        best: dict[int, tuple[float, int]] = {}
        for j, p in enumerate(self.passages):
            score = float(passage_scores[j])
            if p.article not in best or score > best[p.article][0]:
                best[p.article] = (score, j)
        w = self.article_weight
        ranked = sorted(
            ((w * float(article_scores[i]) + (1 - w) * s, i, j) for i, (s, j) in best.items()),
            key=lambda t: (-t[0], t[1]),
        )[: max(k, 0)]
        return [Match(self.articles[i], self.passages[j].text, s) for s, i, j in ranked]
