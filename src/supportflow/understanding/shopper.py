"""Hand-written shopper messages in the register real customers use (``data/shopper_messages.txt``).

Bitext and the templates are tidy, generated text; CLINC's out-of-scope class is crowd-written.
Without natural in-scope text the model learns style ("sounds like a template" = in scope). These
messages are short, typo-laden, situations rather than requests. Families marked ``@val`` are the
validation part: never trained on, used to choose the thresholds and to measure changes.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from supportflow.understanding.corpus import DATA_PACKAGE, Example

SHOPPER_FILE = "data/shopper_messages.txt"
# Every shipped file of shopper messages, in the same format; families are named per file so they
# never merge (the second file's start with "b5").
SHOPPER_FILES = (SHOPPER_FILE, "data/shopper_messages_2.txt")
SOURCE = "shopper"


class ShopperDataError(ValueError):
    """The data file is malformed; the message names the line."""


def parse(lines: list[str], source: str = SHOPPER_FILE) -> tuple[list[Example], list[Example]]:
    """(train, validation) examples; a family is ``shopper:<intent>:<family>``."""
    train: list[Example] = []
    val: list[Example] = []
    intent: str | None = None
    family: str | None = None
    held_out = False
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("# "):
            continue
        if line.startswith("## "):
            intent, family = line[3:].strip(), None
            continue
        if line.startswith("@"):
            head, _, name = line.partition(" ")
            if head not in ("@", "@val") or not name.strip() or intent is None:
                raise ShopperDataError(f"{source}:{n}: bad family line {line!r}")
            family, held_out = f"{SOURCE}:{intent}:{name.strip()}", head == "@val"
            continue
        if intent is None or family is None:
            raise ShopperDataError(f"{source}:{n}: message before any intent and family")
        (val if held_out else train).append(Example(line, intent, family, SOURCE))
    return train, val


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    train: list[Example] = []
    val: list[Example] = []
    for name in SHOPPER_FILES:
        text = resources.files(DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")
        t, v = parse(text.splitlines(), source=name)
        train += t
        val += v
    return tuple(train), tuple(val)


def shopper_train() -> list[Example]:
    return list(_load()[0])


def shopper_validation() -> list[Example]:
    """Held-out families: for thresholds and measurement only, never for fitting."""
    return list(_load()[1])
