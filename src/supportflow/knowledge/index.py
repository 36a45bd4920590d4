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

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

from supportflow.knowledge.articles import Article

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
_WORD = re.compile(r"(?u)\b\w\w+\b")
_SUFFIXES = (
    ("sses", "ss"),
    ("ies", "y"),
    ("xes", "x"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("ing", ""),
    ("ed", ""),
    ("s", ""),
)


def stem(word: str) -> str:
    """A light suffix strip ("exchanges" -> "exchange", "refunded" -> "refund"): enough to
    meet inflections, and predictable for a merchant reading why an article matched."""
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            stem = word[: len(word) - len(suffix)] + replacement
            # "shipped" -> "shipp" -> "ship", "cancelled" -> "cancel" (but "pass" stays).
            if suffix in ("ing", "ed") and stem[-1] == stem[-2] and stem[-1] not in "aeiosz":
                stem = stem[:-1]
            return stem
    return word


def word_terms(text: str) -> list[str]:
    """Stemmed content words and their bigrams."""
    words = [stem(w) for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


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


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit - 1)
    return flat[: cut if cut > 0 else limit - 1] + "…"


class _Part:
    """One TF-IDF view (words or characters) of the passages."""

    def __init__(
        self,
        vectorizer: TfidfVectorizer,
        docs: Sequence[str],
        oov: Callable[[str], bool],
        wholes: Sequence[str],
    ) -> None:
        self.vectorizer = vectorizer
        self.matrix: Any = normalize(vectorizer.fit_transform(docs))
        self.whole: Any = normalize(vectorizer.transform(wholes))
        self._analyze: Callable[[str], list[str]] = vectorizer.build_analyzer()
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._max_idf = float(vectorizer.idf_.max())
        self._counts_as_oov = oov

    def cosines(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """Cosines with every passage and with every whole article."""
        q = self.vectorizer.transform([query])
        unknown = Counter(
            t for t in self._analyze(query) if t not in self._vocabulary and self._counts_as_oov(t)
        )
        # Sublinear tf at the highest IDF, as the vectorizer would weigh a rare known term.
        oov = sum(((1 + math.log(c)) * self._max_idf) ** 2 for c in unknown.values())
        norm = math.sqrt(float(q.multiply(q).sum()) + oov)
        if norm == 0.0:
            return np.zeros(self.matrix.shape[0]), np.zeros(self.whole.shape[0])
        return (
            np.asarray((self.matrix @ q.T).toarray()).ravel() / norm,
            np.asarray((self.whole @ q.T).toarray()).ravel() / norm,
        )


class TenantIndex:
    """An immutable index of one article set. Safe to share between threads."""

    def __init__(
        self, articles: Sequence[Article], *, article_weight: float = ARTICLE_WEIGHT
    ) -> None:
        self.articles = tuple(articles)
        self.article_weight = article_weight
        self.passages: list[Passage] = []
        for i, a in enumerate(self.articles):
            self.passages.extend(Passage(i, p) for p in split_passages(a.body) or [a.title])
        docs = [self._passage_doc(p) for p in self.passages]
        wholes = [" ".join([a.title, *a.tags, a.body]) for a in self.articles]
        self._words: _Part | None = None
        self._chars: _Part | None = None
        if not docs:
            return
        # Unknown word bigrams are not held against a query: a new pairing of two known
        # words is normal phrasing, not a sign of another topic.
        words = TfidfVectorizer(analyzer=word_terms, sublinear_tf=True, norm=None)
        chars = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            sublinear_tf=True,
            strip_accents="unicode",
            norm=None,
        )
        # An article set of only stop words leaves no word vocabulary; it is still
        # searchable by characters.
        if any(word_terms(d) for d in docs):
            self._words = _Part(words, docs, lambda t: " " not in t, wholes)
        self._chars = _Part(chars, docs, lambda t: True, wholes)

    def _passage_doc(self, p: Passage) -> str:
        a = self.articles[p.article]
        return " ".join([a.title, *a.tags, p.text])

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
