"""Term counts of articles, kept per article so a tenant's index is rebuilt incrementally.

Fitting TF-IDF from scratch re-reads every article: for 300 full-size articles that took
tens of seconds, on every edit. Almost all of that time is turning text into terms (word
stems and bigrams, character 3-5grams). Those counts depend only on the article, so they
are computed once per article version and kept; an index is then assembled from the kept
counts with array operations (document frequencies, IDF, weights), which takes a fraction
of a second. An edit re-reads one article.

Term ids come from one growing vocabulary per tenant, shared by all its articles' counts.
Terms of deleted or edited-away text stay in it with no document using them; they are
simply not part of the next index, and a vocabulary that has grown far past what the
articles use is thrown away and rebuilt.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, strip_accents_unicode

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
_WORD = re.compile(r"(?u)\b\w\w+\b")


@functools.lru_cache(maxsize=50_000)
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


# Character n-grams of each word, remembered: text repeats its words, and cutting a word
# into grams is most of the cost of reading an article. Cleared when full.
_GRAMS: dict[str, tuple[str, ...]] = {}
_GRAMS_KEPT = 20_000


def _word_grams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    grams: list[str] = []
    for n in (3, 4, 5):
        if len(padded) <= n:  # a short word counts once, whole
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return tuple(grams)


def char_terms(text: str) -> list[str]:
    """Character 3-5grams inside word boundaries, lowercased and accents stripped: the
    terms of scikit-learn's `char_wb` analyzer (tests/knowledge/test_terms.py checks), so
    scores are those of a TfidfVectorizer fitted on the same passages."""
    grams: list[str] = []
    for word in strip_accents_unicode(text.lower()).split():
        known = _GRAMS.get(word)
        if known is None:
            known = _word_grams(word)
            if len(_GRAMS) >= _GRAMS_KEPT:
                _GRAMS.clear()
            _GRAMS[word] = known
        grams.extend(known)
    return grams


@dataclass(frozen=True)
class View:
    """One way of reading text into terms. `counts_as_oov` says whether a query term the
    articles never use should weigh against the query (see index.py)."""

    name: str
    analyze: Callable[[str], list[str]]
    counts_as_oov: Callable[[str], bool]


# Unknown word bigrams are not held against a query: a new pairing of two known words is
# normal phrasing, not a sign of another topic.
WORDS = View("words", word_terms, lambda t: " " not in t)
CHARS = View("chars", char_terms, lambda t: True)
VIEWS = (WORDS, CHARS)


@dataclass(frozen=True)
class Counts:
    """Terms of some documents, as the three arrays of a CSR matrix whose columns are ids in
    a tenant vocabulary and whose values are 1 + ln(count). Within a row each id appears
    once."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1


@dataclass(frozen=True)
class ArticleTexts:
    """An article cut for indexing: its passages as quoted, and its head (title and tags).
    Each passage is indexed as the document `head + passage`, and the whole article as
    `head + body`."""

    texts: tuple[str, ...]
    head: str
    body: str

    @property
    def docs(self) -> list[str]:
        return [f"{self.head} {t}" for t in self.texts]

    @property
    def whole(self) -> str:
        return f"{self.head} {self.body}"


@dataclass(frozen=True)
class ArticleTerms:
    """What one version of an article contributes to an index."""

    updated_at: datetime | None
    texts: tuple[str, ...]
    # Term counts per view: one row per passage document, and one for the whole article.
    passages: dict[str, Counts]
    whole: dict[str, Counts]

    @property
    def nnz(self) -> int:
        return sum(len(c.data) for c in (*self.passages.values(), *self.whole.values()))


class Vocabulary:
    """Term -> id, growing only. New ids are handed out under the analysis lock; lookups
    from queries need no lock (a dict read is atomic, and an id a query cannot map to a
    column of its index is treated as unknown)."""

    def __init__(self) -> None:
        self.ids: defaultdict[str, int] = defaultdict()
        self.ids.default_factory = self.ids.__len__

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, term: str) -> int | None:
        return self.ids.get(term)

    def count(self, docs: Iterable[str], analyze: Callable[[str], list[str]]) -> Counts:
        """Raw term counts of each document, one row each."""
        indptr = [0]
        indices: list[int] = []
        counts: list[int] = []
        for doc in docs:
            counted = Counter(analyze(doc))
            indices.extend(map(self.ids.__getitem__, counted))  # new terms get the next id
            counts.extend(counted.values())
            indptr.append(len(indices))
        return Counts(
            np.asarray(indptr, dtype=np.int64),
            np.asarray(indices, dtype=np.int64),
            np.asarray(counts, dtype=np.float64),
        )


def _sum_rows(blocks: Sequence[tuple[Counts, np.ndarray]], rows: int) -> Counts:
    """Counts whose row r is the sum of every given row mapped to r: blocks of (counts,
    target row of each of its rows)."""
    row = np.concatenate([np.repeat(target, np.diff(c.indptr)) for c, target in blocks])
    col = np.concatenate([c.indices for c, _ in blocks])
    data = np.concatenate([c.data for c, _ in blocks])
    width = int(col.max(initial=0)) + 1
    keys, where = np.unique(row * width + col, return_inverse=True)
    summed = np.bincount(where, weights=data)
    indptr = np.searchsorted(keys // width, np.arange(rows + 1))
    return Counts(indptr.astype(np.int64), (keys % width).astype(np.int64), summed)


def _tf(c: Counts) -> Counts:
    """Kept as sublinear term frequency, 1 + ln(count): what every index weighs by."""
    tf = np.log(c.data)
    tf += 1.0
    return Counts(c.indptr, c.indices, tf)


def _words_of(text: str) -> int:
    return len(strip_accents_unicode(text.lower()).split())


class TenantAnalysis:
    """The kept term counts of one tenant's articles, and the vocabularies they index.

    `terms_of` re-reads an article only when its version (id, edit time) is new. Callers
    serialise updates with `lock`; indexes already built keep working while it changes.
    """

    # Throw the vocabulary away when it holds this many times the terms in use (plus some
    # slack, so a small knowledge base is never rebuilt for it).
    BLOAT_FACTOR = 2
    BLOAT_SLACK = 50_000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.vocabularies = {v.name: Vocabulary() for v in VIEWS}
        self._articles: dict[str, ArticleTerms] = {}
        self.analysed = 0  # articles read into terms, for tests and metrics

    def terms_of(
        self, article_id: str, updated_at: datetime | None, cut: Callable[[], ArticleTexts]
    ) -> ArticleTerms:
        kept = self._articles.get(article_id)
        if kept is not None and updated_at is not None and kept.updated_at == updated_at:
            return kept
        texts = cut()
        words = self.vocabularies[WORDS.name]
        chars_passages, chars_whole = self._chars(texts)
        terms = ArticleTerms(
            updated_at,
            texts.texts,
            passages={
                WORDS.name: _tf(words.count(texts.docs, WORDS.analyze)),
                CHARS.name: chars_passages,
            },
            whole={
                WORDS.name: _tf(words.count([texts.whole], WORDS.analyze)),
                CHARS.name: chars_whole,
            },
        )
        self.analysed += 1
        if updated_at is not None:
            self._articles[article_id] = terms
        return terms

    def _chars(self, texts: ArticleTexts) -> tuple[Counts, Counts]:
        """Character n-grams are counted word by word, so a document's counts are the sum
        of its parts': the head and each passage are read once, and each passage document
        and the whole article are sums (half the reading of doing each document)."""
        vocabulary = self.vocabularies[CHARS.name]
        head = vocabulary.count([texts.head], CHARS.analyze)
        parts = vocabulary.count(texts.texts, CHARS.analyze)
        n = parts.rows
        k = len(head.indices)
        heads = Counts(
            np.arange(n + 1, dtype=np.int64) * k, np.tile(head.indices, n), np.tile(head.data, n)
        )
        passages = _sum_rows([(parts, np.arange(n)), (heads, np.arange(n))], n)
        if _words_of(texts.body) == sum(_words_of(t) for t in texts.texts):
            whole = _sum_rows([(parts, np.zeros(n, np.int64)), (head, np.zeros(1, np.int64))], 1)
        else:  # a passage was cut inside a word: the whole has other words
            whole = vocabulary.count([texts.whole], CHARS.analyze)
        return _tf(passages), _tf(whole)

    def forget_except(self, article_ids: Iterable[str]) -> None:
        keep = set(article_ids)
        for gone in [a for a in self._articles if a not in keep]:
            del self._articles[gone]

    def bloated(self, used: dict[str, int]) -> bool:
        return any(
            len(self.vocabularies[name]) > self.BLOAT_FACTOR * n + self.BLOAT_SLACK
            for name, n in used.items()
        )


def stack(blocks: Sequence[Counts]) -> Counts:
    """Several blocks of rows as one."""
    if not blocks:
        return Counts(np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))
    offsets = np.cumsum([0] + [len(b.data) for b in blocks[:-1]])
    indptr = np.concatenate(
        [np.zeros(1, np.int64)] + [b.indptr[1:] + o for b, o in zip(blocks, offsets, strict=True)]
    )
    return Counts(
        indptr,
        np.concatenate([b.indices for b in blocks]),
        np.concatenate([b.data for b in blocks]),
    )
