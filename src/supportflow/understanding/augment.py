"""Training-time copies of the natural shopper messages with the typos real customers make.

There are few hand-written messages next to tens of thousands of template and CLINC ones; each is
given a weight and a few misspelt copies (dropped, swapped, doubled or neighbouring-key letters),
so one message teaches its words in the forms they are actually typed.
"""

from __future__ import annotations

import random

# Keys next to each other on a QWERTY keyboard: the commonest slip.
_NEIGHBOURS = {
    "a": "qsz",
    "b": "vn",
    "c": "xv",
    "d": "sf",
    "e": "wr",
    "f": "dg",
    "g": "fh",
    "h": "gj",
    "i": "uo",
    "j": "hk",
    "k": "jl",
    "l": "k",
    "m": "n",
    "n": "bm",
    "o": "ip",
    "p": "o",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "u": "yi",
    "v": "cb",
    "w": "qe",
    "y": "tu",
}


def misspell(rng: random.Random, word: str) -> str:
    """``word`` with one slip; words of three letters or fewer are left alone."""
    if len(word) <= 3 or not word.isalpha():
        return word
    j = rng.randrange(1, len(word) - 1)
    op = rng.random()
    if op < 0.3:
        return word[:j] + word[j + 1 :]
    if op < 0.55:
        return word[: j - 1] + word[j] + word[j - 1] + word[j + 1 :]
    if op < 0.75:
        return word[:j] + word[j] + word[j:]
    near = _NEIGHBOURS.get(word[j], word[j])
    return word[:j] + rng.choice(near) + word[j + 1 :]


def typo_variants(text: str, count: int, seed: int) -> list[str]:
    """Up to ``count`` distinct copies of ``text``, each with one or two misspelt words."""
    rng = random.Random(f"{seed}:{text}")
    out: list[str] = []
    words = text.split(" ")
    for _ in range(count * 3):
        if len(out) == count:
            break
        copy = list(words)
        for _ in range(rng.choice((1, 1, 2))):
            i = rng.randrange(len(copy))
            copy[i] = misspell(rng, copy[i])
        variant = " ".join(copy)
        if variant != text and variant not in out:
            out.append(variant)
    return out
