"""The natural-language test set: hand-written customer messages, never trained on.

``data/natural_test.jsonl`` (see ``data/NATURAL_TEST.md``) is read only by the evaluation. The
training code (``corpus``, ``train`` and what they import) must never read it: the tests check
both that no module but the evaluation names it and that building the corpus never opens it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from supportflow.understanding.corpus import DATA_PACKAGE, OUT_OF_SCOPE

NATURAL_FILE = "data/natural_test.jsonl"
# Product questions ("do you have this in size 11?") are in scope (issue 11, item 5) but no
# engine class exists for them yet; the set labels them with this dedicated intent.
PRODUCT_QUESTION = "product_question"

_SPACE = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")


class NaturalSetError(ValueError):
    """The data file is malformed; the message names the line."""


@dataclass(frozen=True)
class NaturalExample:
    id: str
    text: str
    # The primary intent: the first request the customer makes (the one to act on first).
    intent: str
    # Every request in the message, primary first; one element for single-request messages.
    intents: tuple[str, ...]
    # As written by the author: "#W1234567" (tau-style ids) or "#1001" (Shopify-style).
    order_ids: tuple[str, ...]
    emails: tuple[str, ...]
    address: bool
    register: tuple[str, ...]
    # Out-of-scope messages on a CLINC150 topic: the CLINC intent it belongs to (the text is
    # our own). Whether that topic is held out of training is decided at evaluation time.
    clinc_intent: str | None

    @property
    def in_scope(self) -> bool:
        return self.intent != OUT_OF_SCOPE


def normalise(text: str) -> str:
    """The form two texts are compared in for leakage: lowercase, whitespace collapsed, every
    digit masked (order numbers and amounts differ between otherwise identical sentences)."""
    return _DIGIT.sub("0", _SPACE.sub(" ", text.lower())).strip()


def _strs(row: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = row.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise NaturalSetError(f"{where}: {key!r} must be a list of strings")
    return tuple(value)


def _parse(line: str, where: str) -> NaturalExample:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise NaturalSetError(f"{where}: not JSON ({err})") from None
    if not isinstance(row, dict):
        raise NaturalSetError(f"{where}: not a JSON object")
    for key in ("id", "text", "intent"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise NaturalSetError(f"{where}: {key!r} must be a non-empty string")
    entities = row.get("entities")
    if not isinstance(entities, dict) or not isinstance(entities.get("address"), bool):
        raise NaturalSetError(f"{where}: 'entities' must hold order_ids, emails and address")
    intents = _strs(row, "intents", where)
    if not intents or intents[0] != row["intent"]:
        raise NaturalSetError(f"{where}: 'intents' must start with the primary intent")
    clinc = row.get("clinc_intent")
    if clinc is not None and (not isinstance(clinc, str) or row["intent"] != OUT_OF_SCOPE):
        raise NaturalSetError(f"{where}: 'clinc_intent' is for out-of-scope messages only")
    return NaturalExample(
        id=row["id"],
        text=row["text"],
        intent=row["intent"],
        intents=intents,
        order_ids=_strs(entities, "order_ids", where),
        emails=_strs(entities, "emails", where),
        address=entities["address"],
        register=_strs(row, "register", where),
        clinc_intent=clinc,
    )


def parse_lines(lines: list[str], source: str = NATURAL_FILE) -> list[NaturalExample]:
    out = [_parse(line, f"{source}:{n}") for n, line in enumerate(lines, 1) if line.strip()]
    seen: set[str] = set()
    for e in out:
        if e.id in seen:
            raise NaturalSetError(f"{source}: duplicate id {e.id}")
        seen.add(e.id)
    return out


@lru_cache(maxsize=1)
def _load() -> tuple[NaturalExample, ...]:
    raw = resources.files(DATA_PACKAGE).joinpath(NATURAL_FILE).read_text(encoding="utf-8")
    return tuple(parse_lines(raw.splitlines()))


def load_natural_set() -> list[NaturalExample]:
    """Every message of the set, in file order."""
    return list(_load())
