"""The parser of consent: whether a message splits wholly into allow-listed phrases.

Words are matched with repeated letters collapsed ("yesss") and, for long words, one slip
("confrim"); see the decisions in verdict.py.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from supportflow.procedures.consent.vocabulary import (
    ACTION_WORDS,
    FILLERS,
    GO,
    NO,
    NO_FILLERS,
    OBJECTS,
    YES,
)

_REPEATS = re.compile(r"(.)\1+")
_FUZZY_MIN = 6

Phrase = tuple[str, ...]


def collapse(word: str) -> str:
    return _REPEATS.sub(r"\1", word)


def split_words(lowered: str) -> list[str]:
    """Words with punctuation gone, each symbol (emoji) a word of its own."""
    spaced = []
    for c in lowered:
        if c.isalnum():
            spaced.append(c)
        elif unicodedata.category(c) == "So":
            spaced.append(f" {c} ")
        else:
            spaced.append(" ")
    return "".join(spaced).split()


def _phrases(items: Iterable[str]) -> frozenset[Phrase]:
    return frozenset(tuple(collapse(w) for w in item.split()) for item in items if item)


@lru_cache(maxsize=1)
def no_grammar() -> frozenset[Phrase]:
    return _phrases((*NO, *NO_FILLERS))


@lru_cache(maxsize=1)
def no_core() -> frozenset[Phrase]:
    return _phrases(NO)


@lru_cache(maxsize=16)
def yes_grammar(action: str | None) -> tuple[frozenset[Phrase], frozenset[Phrase]]:
    """(every phrase a yes may use, the phrases that say yes) for a question about ``action``."""
    chosen = ACTION_WORDS.values() if action is None else [ACTION_WORDS.get(action, ((), ()))]
    verbs = sorted({v for vs, _ in chosen for v in vs})
    nouns = sorted({n for _, ns in chosen for n in ns})
    things = [*OBJECTS, *(f"{d} {n}" for d in ("the", "my") for n in nouns)]
    echoes = [f"{v} {t}".strip() for v in verbs for t in ("", *things)]
    go_with = [f"{g} with {t}" for g in GO for t in things]
    core = _phrases((*YES, *go_with))
    return core | _phrases((*FILLERS, *echoes)), core


@lru_cache(maxsize=1)
def _fuzzy_words() -> tuple[str, ...]:
    singles = {p[0] for p in _phrases((*YES, *FILLERS)) if len(p) == 1}
    return tuple(sorted(w for w in singles if len(w) >= _FUZZY_MIN))


def says_yes(words: list[str]) -> bool:
    """Whether a phrase that says yes appears anywhere in ``words`` (for the reason only)."""
    _, core = yes_grammar(None)
    for phrase in core:
        n = len(phrase)
        if any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1)):
            return True
    return any(_near(w, core) is not None for w in words)


def _near(word: str, allowed: frozenset[Phrase]) -> str | None:
    """A vocabulary word one slip away from ``word`` (long words only)."""
    if len(word) < _FUZZY_MIN - 1:
        return None
    for known in _fuzzy_words():
        if (known,) in allowed and _one_slip(word, known):
            return known
    return None


def _one_slip(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance of at most one."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i, j = diff[0], diff[-1]
        return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(short == long_[:i] + long_[i + 1 :] for i in range(len(long_)))


def parses(words: list[str], grammar: frozenset[Phrase], *, core: frozenset[Phrase]) -> bool:
    """Whether ``words`` split wholly into phrases of ``grammar``, one of them from ``core``.

    A small dynamic programme over positions: ``reach[i]`` holds whether words[:i] parse,
    and whether a core phrase was among them. "and" may not open or close the message.
    """
    if words[0] == "and" or words[-1] == "and":
        return False
    longest = max(len(p) for p in grammar)
    reach: list[set[bool]] = [set() for _ in range(len(words) + 1)]
    reach[0].add(False)
    for i in range(len(words)):
        if not reach[i]:
            continue
        for n in range(1, min(longest, len(words) - i) + 1):
            chunk = tuple(words[i : i + n])
            if chunk not in grammar:
                if n != 1:
                    continue
                known = _near(chunk[0], grammar)
                if known is None:
                    continue
                chunk = (known,)
            is_core = chunk in core
            for had in reach[i]:
                reach[i + n].add(had or is_core)
    return True in reach[len(words)]
