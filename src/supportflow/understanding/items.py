"""Match product mentions ("the blue 1000ml glass water bottle") to catalogue variants."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from supportflow.understanding.contract import ItemMatch
from supportflow.understanding.store_catalogue import Variant, variants

# Every variant of a product is returned when options do not narrow it down, so the workflow can
# intersect with the items of the customer's order; the cap keeps replies small.
MAX_MATCHES = 25
_YES_NO = frozenset({"yes", "no", "none"})


def _compact(s: str) -> str:
    return re.sub(r"[\s\-_]+", "", s.lower())


@dataclass(frozen=True)
class _Product:
    product_id: str
    name: str
    pattern: re.Pattern[str]
    variants: tuple[Variant, ...]


def _name_pattern(name: str) -> re.Pattern[str]:
    # "T-Shirt" matches "t-shirt", "tshirt", "t shirt", "t-shirts"; "E-Reader" likewise.
    words = [re.escape(w) for w in re.split(r"[\s\-]+", name.lower())]
    body = r"[\s\-]?".join(words)
    return re.compile(rf"\b{body}(?:s|es)?\b")


@lru_cache(maxsize=1)
def _products() -> tuple[_Product, ...]:
    grouped: dict[tuple[str, str], list[Variant]] = defaultdict(list)
    for v in variants():
        grouped[(v.product_id, v.product_name)].append(v)
    return tuple(
        _Product(pid, name, _name_pattern(name), tuple(vs))
        for (pid, name), vs in sorted(grouped.items(), key=lambda kv: -len(kv[0][1]))
    )


def _option_matches(key: str, value: str, text: str, compact: str) -> bool:
    v = value.lower()
    if v in _YES_NO:
        # "waterproof: yes" is said as "waterproof"; "no" options are rarely mentioned.
        return v == "yes" and key.lower() in text and f"not {key.lower()}" not in text
    if len(v) <= 3 and v.isalpha() and key.lower() == "size":
        # Letter sizes (S, M, L, XL) only count next to the word "size", or when written as an
        # unambiguous size token (XL, XXL).
        if re.search(rf"\bsize\s+{re.escape(v)}\b|\b{re.escape(v)}\s+size\b", text):
            return True
        return len(v) >= 2 and bool(re.search(rf"(?<!')\b{re.escape(v)}\b", text))
    if re.search(rf"\b{re.escape(v)}\b", text):
        return True
    # "1000 ml" vs "1000ml", "13 inch" vs "13-inch": with digits, compare without spaces.
    return any(c.isdigit() for c in v) and len(v) >= 3 and _compact(v) in compact


def match_items(text: str) -> list[ItemMatch]:
    lowered = text.lower()
    compact = _compact(lowered)
    out: list[ItemMatch] = []
    claimed: list[tuple[int, int]] = []
    for product in _products():
        m = product.pattern.search(lowered)
        if not m:
            continue
        # Longer names go first; "Smart Watch" must not also count as "Watch"-something.
        if any(m.start() < e and s < m.end() for s, e in claimed):
            continue
        claimed.append((m.start(), m.end()))
        scored = []
        for v in product.variants:
            hits = sum(_option_matches(k, val, lowered, compact) for k, val in v.options)
            scored.append((hits / max(1, len(v.options)), v))
        best = max(s for s, _ in scored)
        for score, v in scored:
            if score == best:
                # The product name itself is certain; options decide the rest of the score.
                out.append(
                    ItemMatch(
                        item_id=v.item_id,
                        product_id=v.product_id,
                        name=v.product_name,
                        score=round(0.5 + 0.5 * score, 4),
                    )
                )
    out.sort(key=lambda i: -i.score)
    return out[:MAX_MATCHES]
