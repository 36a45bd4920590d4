"""Match product mentions ("the blue 1000ml glass water bottle") to catalogue variants.

Pure: the catalogue is an argument (see ``catalogue.py`` for where each tenant's comes from).
"""

from __future__ import annotations

import re

from supportflow.understanding.catalogue import Catalogue
from supportflow.understanding.contract import ItemMatch

# Every variant of a product is returned when options do not narrow it down, so the workflow can
# intersect with the items of the customer's order; the cap keeps replies small.
MAX_MATCHES = 25
_YES_NO = frozenset({"yes", "no", "none"})


def _compact(s: str) -> str:
    return re.sub(r"[\s\-_]+", "", s.lower())


def said_absent(key: str, text: str) -> bool:
    """Whether lowercased ``text`` asks for an option to be absent: "backlight: none" or
    "waterproof: no" is said as "no backlight", "without backlight", "not waterproof",
    "non-waterproof", "isn't waterproof" or "backlight: none". Item matching and the
    procedures' variant choice both read options this way."""
    k = re.escape(key.lower())
    return bool(
        re.search(rf"(?:\b(?:not|non|no|without)|n't)[\s-]+(?:\w+\s+)?{k}\b", text)
        or re.search(rf"\b{k}\s*:?\s*(?:none|no)\b", text)
    )


def _option_matches(key: str, value: str, text: str, compact: str) -> bool:
    v = value.lower()
    if v in _YES_NO:
        if v == "yes":
            # "waterproof: yes" is said as "waterproof".
            return key.lower() in text and f"not {key.lower()}" not in text
        return said_absent(key, text)
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


def match_items(text: str, catalogue: Catalogue) -> list[ItemMatch]:
    """The catalogue's variants the text mentions, best first (at most ``MAX_MATCHES``)."""
    lowered = text.lower()
    compact = _compact(lowered)
    out: list[ItemMatch] = []
    claimed: list[tuple[int, int]] = []
    for product in catalogue.products:
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
