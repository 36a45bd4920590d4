"""Rule-based entity extraction: order ids, emails, phones, zips, names, amounts, cancel reasons.

Rules rather than a learned tagger: the formats are regular, the training data has few marked
spans, and every rule here can be read and tested. Order numbers are read in the store's own
format (``order_numbers.py``); item matching lives in ``items.py``.

Markup is read as the text it shows: a message pasted from a web page or an HTML mail
("<b>12 Main St</b>", "&amp;") has its tags and character references removed first, so no
entity keeps a tag and tags do not hide what they wrap.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import phonenumbers

from supportflow.understanding.absent_options import without_absent_options
from supportflow.understanding.catalogue import Catalogue
from supportflow.understanding.contract import Entities, Understanding
from supportflow.understanding.items import match_items
from supportflow.understanding.order_numbers import (
    DEMO_ORDER_NUMBERS,
    OrderNumberFormat,
    order_number_spans,
)
from supportflow.understanding.part_orders import inherit_order_ids
from supportflow.understanding.store_catalogue import demo_catalogue, store_sample

# Entities sit near the start of real messages; the cap bounds work on pasted 16 KB text.
MAX_CHARS = 4000
# The demo store's order numbers ("#W" + 7 digits); see DEMO_ORDER_NUMBERS for the rules.
STORE_ID_DIGITS = 7

# An HTML tag (or comment): a "<" that opens a name or "/" or "!", up to its ">".
_TAG = re.compile(r"<(?:[A-Za-z/!][^<>]{0,300})>")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ZIP = re.compile(r"(?<![\d-])(\d{5})(?:-\d{4})?(?![\d-])")
_ZIP_CONTEXT = re.compile(
    r"(?:zip|postal|post code|postcode)\W{0,3}(?:code)?\W{0,3}(?:is\s)?\W{0,2}$"
    r"|\b[A-Z]{2},?\s$",
    re.IGNORECASE,
)
_MONEY = (
    re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"),
    re.compile(
        r"(?<![\d.])(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)\s?"
        r"(?:dollars?|usd|bucks)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\busd\s?(\d+(?:\.\d{1,2})?)", re.IGNORECASE),
)
_NAME_WORD = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
_NAME_INTRO = re.compile(
    r"(?:\bmy name is|\bname:|\bthis is|\bI'm|\bI am|\bit's)\s+"
    rf"({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})"
    r"|(?:\b(?:my name is|name:)\s+)([a-z]+(?:\s+[a-z]+)?)\b",
    re.IGNORECASE,
)
_HONORIFIC = re.compile(rf"\b((?:Mr|Mrs|Ms|Miss|Dr)\.?\s+{_NAME_WORD})")
_FULL_NAME = re.compile(rf"\b({_NAME_WORD})\s+({_NAME_WORD})\b")
# "the invoice from Anna Freeman": a capitalised pair after "from"/"for" is a person, unless it is
# a known city.
_FROM_NAME = re.compile(rf"\b(?:from|for|by)\s+({_NAME_WORD}\s+{_NAME_WORD})\b")
_NOT_NAMES = frozenset(
    [
        "i",
        "im",
        "trying",
        "looking",
        "going",
        "not",
        "sure",
        "so",
        "very",
        "just",
        "really",
        "writing",
        "calling",
        "here",
        "having",
        "unable",
        "the",
        "a",
        "an",
        "hello",
        "hi",
        "hey",
        "thanks",
        "order",
        "please",
    ]
)

_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "ordered by mistake",
        re.compile(
            r"by (?:mistake|accident|error)|accidental(?:ly)?|mistaken(?:ly)?|\bin error\b"
            r"|ordered (?:the )?wrong|wrong (?:item|size|color|colour|product)"
            r"|didn'?t mean to (?:order|buy|purchase)|did not mean to (?:order|buy|purchase)"
            r"|ordered (?:it )?twice|duplicate order|double order|was a mistake",
            re.IGNORECASE,
        ),
    ),
    (
        "no longer needed",
        re.compile(
            r"no longer (?:need|want|require)|not needed"
            r"|don'?t (?:really )?(?:need|want) (?:it|them|this|that|these)?\s?(?:any ?more)?"
            r"|do not (?:need|want)|changed my mind|change of mind|not necessary any ?more"
            r"|found (?:it |one |a )?cheaper|no use for|don'?t need any ?more"
            r"|no need for (?:it|them)",
            re.IGNORECASE,
        ),
    ),
)


def plain_text(text: str) -> str:
    """``text`` without markup: tags become spaces (they separate words), character
    references their characters ("&amp;" -> "&"); done twice so escaped markup goes too."""
    if "<" not in text and "&" not in text:
        return text
    for _ in range(2):
        text = _TAG.sub(" ", html.unescape(text))
    return text


def order_id_spans(
    text: str, order_format: OrderNumberFormat = DEMO_ORDER_NUMBERS, awaiting: str | None = None
) -> list[tuple[int, int, str]]:
    """(start, end, the store's name) for each order id; spans let other extractors skip
    them. ``awaiting``: what the agent asked for last (``Context.awaiting``)."""
    return order_number_spans(text, order_format, awaiting=awaiting)


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in taken)


def phone_spans(text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """(start, end, E.164) of valid phone numbers, US numbering by default."""
    if sum(c.isdigit() for c in text) < 7:
        return []
    out: list[tuple[int, int, str]] = []
    matcher = phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.VALID)
    for m in matcher:
        if _overlaps((m.start, m.end), taken):
            continue
        e164 = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
        out.append((m.start, m.end, e164))
    return out


def emails(text: str) -> list[str]:
    out: list[str] = []
    for m in _EMAIL.finditer(text):
        value = m.group(0).lower().rstrip(".")
        if value not in out:
            out.append(value)
    return out


def zip_codes(text: str, taken: list[tuple[int, int]]) -> list[str]:
    out: list[str] = []
    stripped = text.strip()
    for m in _ZIP.finditer(text):
        if _overlaps((m.start(), m.end()), taken):
            continue
        prefix = text[max(0, m.start() - 25) : m.start()]
        # A 5-digit number alone is a zip only with context, or as the whole reply.
        has_context = bool(_ZIP_CONTEXT.search(prefix)) or stripped == m.group(0)
        if has_context and m.group(1) not in out:
            out.append(m.group(1))
    return out


def amounts(text: str, taken: list[tuple[int, int]]) -> list[float]:
    found: list[tuple[int, float]] = []
    for rx in _MONEY:
        for m in rx.finditer(text):
            if _overlaps((m.start(1), m.end(1)), taken):
                continue
            value = float(m.group(1).replace(",", ""))
            if all(abs(pos - m.start(1)) > 0 for pos, _ in found) and value not in [
                v for _, v in found
            ]:
                found.append((m.start(1), value))
    return [v for _, v in sorted(found)]


@lru_cache(maxsize=1)
def _first_names() -> frozenset[str]:
    return frozenset(n.split(" ")[0] for n in store_sample().person_names)


def person_names(text: str) -> list[str]:
    out: list[str] = []

    def add(name: str) -> None:
        name = " ".join(w[:1].upper() + w[1:] for w in name.split())
        if name not in out:
            out.append(name)

    for m in _NAME_INTRO.finditer(text):
        raw = m.group(1) or m.group(2) or ""
        words = raw.split()
        # "I'm Trying" is not a name: drop words that are usual sentence words.
        while words and words[-1].lower() in _NOT_NAMES:
            words.pop()
        if words and words[0].lower() not in _NOT_NAMES:
            add(" ".join(words))
    for m in _HONORIFIC.finditer(text):
        add(m.group(1))
    cities = frozenset(store_sample().cities)
    for m in _FROM_NAME.finditer(text):
        if m.group(1) not in cities:
            add(m.group(1))
    known = _first_names()
    for m in _FULL_NAME.finditer(text):
        if m.group(1) in known:
            add(f"{m.group(1)} {m.group(2)}")
    # Keep the longest form when one name contains another ("Noah" and "Noah Brown").
    return [n for n in out if not any(n != o and n in o for o in out)]


def cancel_reason(text: str) -> str | None:
    for label, rx in _REASONS:
        if rx.search(text):
            return label
    return None


def extract(
    text: str,
    catalogue: Catalogue | None = None,
    *,
    order_format: OrderNumberFormat = DEMO_ORDER_NUMBERS,
    awaiting: str | None = None,
) -> Entities:
    """Entities of ``text``; items are matched against ``catalogue``, the tenant's own (the
    demo store's seed when none is given: offline tools and tests, which have no tenant), and
    order ids read in ``order_format``, the tenant's store's (the demo store's by default).
    ``awaiting`` is what the agent asked for last: a bare number answers "order_id"."""
    text = plain_text(text[:MAX_CHARS])
    ids = order_id_spans(text, order_format, awaiting)
    taken = [(s, e) for s, e, _ in ids]
    taken += [(m.start(), m.end()) for m in _EMAIL.finditer(text)]
    phone = phone_spans(text, taken)
    taken += [(s, e) for s, e, _ in phone]
    catalogue = demo_catalogue() if catalogue is None else catalogue
    return Entities(
        order_ids=list(dict.fromkeys(v for _, _, v in ids)),
        emails=emails(text),
        phones=list(dict.fromkeys(v for _, _, v in phone)),
        zip_codes=zip_codes(text, taken),
        person_names=person_names(text),
        amounts=amounts(text, taken),
        cancel_reason=cancel_reason(text),
        # Options no variant has: no variant rather than a wrong one (absent_options.py).
        items=without_absent_options(text, catalogue, match_items(text, catalogue)),
    )


def with_order_numbers(
    understanding: Understanding,
    text: str,
    order_format: OrderNumberFormat,
    awaiting: str | None = None,
) -> Understanding:
    """``understanding`` of ``text`` with its order ids read in ``order_format`` (the tenant's
    store's) and with ``awaiting`` in mind.

    Engines read order ids in the demo store's format without the conversation's context; the
    understand activity, which knows the tenant, calls this on their answer. The ids the
    engine's rules found are replaced by this store's; an id the engine added otherwise (an LLM
    reading the text) stays when it is written as one of this store's names. A zip code that is
    now an order number's digits is dropped.

    A message with several requests has each part re-read from its own text (``awaiting`` for
    the first only), parts naming no order take the one they refer to (``part_orders.py``), and
    the top level stays the first part's."""
    if understanding.parts:
        return _parts_with_order_numbers(understanding, order_format, awaiting)
    text = plain_text(text[:MAX_CHARS])
    spans = order_id_spans(text, order_format, awaiting)
    found = list(dict.fromkeys(name for _, _, name in spans))
    by_rules = {name for _, _, name in order_id_spans(text)}
    ents = understanding.entities
    added = [i for i in ents.order_ids if i not in by_rules and order_format.is_name(i)]
    order_ids = list(dict.fromkeys(found + added))
    claimed = {re.sub(r"\D", "", text[s:e]) for s, e, _ in spans}
    zips = [z for z in ents.zip_codes if z not in claimed]
    if order_ids == ents.order_ids and zips == ents.zip_codes:
        return understanding
    entities = ents.model_copy(update={"order_ids": order_ids, "zip_codes": zips})
    return understanding.model_copy(update={"entities": entities})


# --- several requests in one message (understanding/requests.py) ---------------------------------
def _parts_with_order_numbers(
    understanding: Understanding, order_format: OrderNumberFormat, awaiting: str | None
) -> Understanding:
    read = [
        with_order_numbers(p.understanding, p.text, order_format, awaiting if i == 0 else None)
        for i, p in enumerate(understanding.parts)
    ]
    # Copies: with_order_numbers returns its input unchanged when nothing moved.
    ents = [u.entities.model_copy(deep=True) for u in read]
    inherit_order_ids(
        [(u.intent, p.text, e) for u, p, e in zip(read, understanding.parts, ents, strict=True)]
    )
    parts = [
        p.model_copy(update={"understanding": u.model_copy(update={"entities": e})})
        for p, u, e in zip(understanding.parts, read, ents, strict=True)
    ]
    return understanding.model_copy(
        update={"entities": parts[0].understanding.entities, "parts": parts}
    )
