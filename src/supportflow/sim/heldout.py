"""First messages from the understanding corpus's held-out (test) split, with order ids filled.

The split is the one ``supportflow eval understanding`` scores: families of paraphrases the
local model never trained on. Order ids in a message are replaced by the conversation's own;
where the intent needs one and the message has none, it is appended.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from functools import cache

# Customers write ids as "#W1234567", "W1234567" or "1234567" (see corpus._order_number).
_ORDER_ID = re.compile(r"#?\bW?\d{7}\b")


@cache
def heldout_by_intent() -> dict[str, tuple[str, ...]]:
    from supportflow.understanding.corpus import build_corpus
    from supportflow.understanding.splits import split_by_family

    out: dict[str, list[str]] = defaultdict(list)
    for example in split_by_family(build_corpus()).test:
        out[example.intent].append(example.text)
    return {intent: tuple(texts) for intent, texts in out.items()}


def fill_order_id(text: str, order_id: str | None) -> str:
    if order_id is None:
        return _ORDER_ID.sub("", text).strip()
    if _ORDER_ID.search(text):
        return _ORDER_ID.sub(order_id, text, count=1)
    return f"{text.rstrip(' ?.!')}, order {order_id}"


def draw(intent: str, rng: random.Random, order_id: str | None) -> str | None:
    """A held-out message of this intent with the order id filled in (None: none held out)."""
    pool = heldout_by_intent().get(intent, ())
    if not pool:
        return None
    return fill_order_id(rng.choice(pool), order_id)
