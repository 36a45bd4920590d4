"""Order numbers as a store prints them, found in what customers write.

A store names an order ``prefix + number + suffix``: the demo store ``#W2611340`` (always 7
digits), Shopify ``#1001`` (numbers count up, from 1001 unless the merchant chose otherwise;
the merchant may also set another prefix or a suffix, e.g. ``SF-1001-EU``). Customers write
the whole name, the name without its ``#`` or letters, or the bare number: "#1001", "1001",
"order 1001", "order no. 1001", "my order number is 1001". ``order_number_spans`` finds them
for one store's ``OrderNumberFormat`` and gives each in the store's own form (``1001`` ->
``#1001``), the name its ``get_order`` looks up.

A number is an order number when

1. it carries the store's prefix: "#1001", "SF-1001", "#W2611340", "w 261 1340". A bare "#"
   is not enough after words that number other things ("apt #12", "ticket #4521");
2. an order cue comes right before it: "order" or "purchase" (typos and glued forms count:
   "ordr", "order1001"), with fillers between ("order no. 1001", "my order number is 1001",
   "order: 1001"). "order" as a verb (after "to", a pronoun, or a modal after a pronoun:
   "I'd like to order 500 pens", "I will order 100") is only a weak cue, and none when a
   word follows the number that is not a verb or a function word (what is ordered); after a
   modal alone it is a noun ("when will order 1067 get here");
3. it continues a list that began with an order number ("orders 1001, 1002 and 1003");
4. the agent is waiting for an order number (``awaiting == "order_id"``); or
5. the store's numbers have a fixed width and this one has exactly that width (the demo
   store's 7 digits: "it's 2611340"), as the engine has always read them.

Under 3 to 5 (and a weak cue) nothing may mark the number as something else: a price ("$1001",
"1001 dollars", "paid 1001"), a quantity or measure ("1001 units", "qty 100"), a street number
("1001 Main St"), a zip or postal code ("Springfield, IL 62704", "pin code 851133"), a phone
number, a year ("in 2023", "May 5, 2023"), a one-time code ("the code is 851133"), a card's
last digits ("card ending 1001"), a ticket, apartment, size or model number, or a piece of a
longer number, decimal, date or time ("415 555 0132", "10.01", "12/05", "10:30"); even with a
cue or prefix, a number with letters right after it, part of a decimal, date or time, or (with
a cue) followed by a unit ("order 150 dollars") is not one (the demo store's ids excepted, read
as always). While the agent waits for a one-time code (``awaiting == "verification_code"``; the
workflow reads the code itself) no bare number is an order number.

Digits: a counting-up number has 3 to 9 (below 100 a number is a quantity far more often than
an order; shops start at 1001). A fixed-width number has exactly its width, written whole or
in groups ("261 1340"); with a prefix or a cue the demo store's ids are read as its training
data writes them (a first group of 6 digits or more, whatever its length), and a loose cue
(any word containing "order") is enough, since such a number is rarely anything else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cached_property, lru_cache
from typing import Literal

import phonenumbers

# (start, end, canonical name) of an order number in the text.
Span = tuple[int, int, str]

AWAITING_ORDER = "order_id"
AWAITING_CODE = "verification_code"
# Counting-up numbers: see the module's docstring.
MIN_DIGITS = 3
MAX_DIGITS = 9
_MAX_AFFIX = 20
_WINDOW = 40  # characters read on each side of a number


@dataclass(frozen=True)
class OrderNumberFormat:
    """How one store prints order names: ``prefix`` + number + ``suffix``; the number is
    ``width`` digits when fixed (the demo store's 7), or counts up (``None``: Shopify)."""

    prefix: str = "#"
    suffix: str = ""
    width: int | None = None

    def __post_init__(self) -> None:
        for part in (self.prefix, self.suffix):
            if len(part) > _MAX_AFFIX or not part.isprintable() or part != part.strip():
                raise ValueError(
                    f"an order name's prefix and suffix are at most {_MAX_AFFIX} printable "
                    "characters without surrounding spaces"
                )
        if any(c.isdigit() for c in self.prefix + self.suffix):
            # A digit in them would make the number's own digits ambiguous.
            raise ValueError("an order name's prefix and suffix may not contain digits")
        if self.width is not None and not 3 <= self.width <= 20:
            raise ValueError("a fixed order number width is 3 to 20 digits")

    def name(self, digits: str) -> str:
        """The store's name for the order number ``digits``."""
        return f"{self.prefix}{digits}{self.suffix}"

    @property
    def example(self) -> str:
        """An order name as this store prints them, for "please give the number, like ..."."""
        return self.name("1234567"[: self.width] if self.width else "1001")

    @cached_property
    def _name_pattern(self) -> re.Pattern[str]:
        # As read: a fixed-width id with its prefix may be longer (see _lenient_digits).
        low = MIN_DIGITS if self.width is None else self.width - 1
        return re.compile(
            rf"{re.escape(self.prefix)}\d{{{low},}}{re.escape(self.suffix)}", re.IGNORECASE
        )

    def is_name(self, value: str) -> bool:
        """Whether ``value`` is written as one of this store's order names."""
        return self._name_pattern.fullmatch(value) is not None


# The demo store: "#W" and 7 digits.
DEMO_ORDER_NUMBERS = OrderNumberFormat(prefix="#W", width=7)
# Shopify's default: "#" and a counting-up number ("#1001").
SHOPIFY_ORDER_NUMBERS = OrderNumberFormat(prefix="#")


def order_number_spans(
    text: str, fmt: OrderNumberFormat = DEMO_ORDER_NUMBERS, *, awaiting: str | None = None
) -> list[Span]:
    """Each order number in ``text`` as ``(start, end, name)``, in the order written (a
    number written twice is listed twice; callers keep the first)."""
    return list(_reader(fmt).spans(text, awaiting))


def order_numbers(
    text: str, fmt: OrderNumberFormat = DEMO_ORDER_NUMBERS, *, awaiting: str | None = None
) -> list[str]:
    """The store's names of the orders ``text`` mentions: in order, each once."""
    return list(
        dict.fromkeys(name for _, _, name in order_number_spans(text, fmt, awaiting=awaiting))
    )


# -- the rules ------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z]+")
_FILLERS = frozenset(
    {"number", "numbers", "no", "nos", "num", "nr", "id", "is", "was", "are", "my", "the"}
    | {"ref", "s", "reference"}
)
_CUES = ("order", "orders", "purchase", "purchases")
# Words that look like "order" to a fuzzy match but are not it.
_NOT_CUES = frozenset({"border", "borders", "older", "recorder", "disorder", "odor", "orderly"})
# "order" is a verb after these ("to order 500 pens", "I'd order", "we'll order") and after a
# modal that follows a pronoun ("I will order 100"), but a noun after a modal that does not
# ("when will order 1067 get here", "can order 1001 be cancelled").
_PRONOUNS = frozenset({"i", "we", "you", "they", "he", "she"})
_VERB_BEFORE = _PRONOUNS | {"to", "d", "ll", "gonna", "wanna", "lets"}
_MODALS = frozenset({"will", "can", "could", "would", "should", "might", "must", "may", "shall"})
# After a weak cue a number must be followed by an end, punctuation or one of these words
# ("can order 1001 be cancelled"), not by what is ordered ("to order 500 pens").
_FUNCTION_WORDS = frozenset(
    {"is", "was", "has", "had", "have", "hasn", "isn", "wasn", "didn", "did", "does", "doesn"}
    | {"be", "been", "still", "never", "not", "and", "or", "but", "please", "pls", "plz"}
    | {"thanks", "thank", "thx", "yet", "already", "to", "for", "from", "with", "on", "in", "at"}
    | {"which", "that", "it", "i", "will", "won", "should", "could", "can", "arrived", "shipped"}
    | {"get", "arrive", "ship", "come", "go", "show", "reach", "leave", "got", "went", "came"}
)

_HASH_END = re.compile(r"#\s?$")
# What a bare "#" numbers instead of an order: "apt #12", "ticket #4521", "item #3".
_HASH_OTHER = re.compile(
    r"\b(?:apt|apartment|unit|suite|ste|room|rm|floor|fl|building|bldg|lot|box|house|flat"
    r"|ticket|case|claim|rma|sku|model|item|product|part|size|version|page|step|line|row"
    r"|level|issue|store|location|gate|seat|table)\.?\s*#\s?$",
    re.IGNORECASE,
)
_CURRENCY_BEFORE = re.compile(
    r"(?:[$€£¥₹]|\b(?:usd|eur|gbp|inr|cad|aud|rs|rp)\.?)\s?$", re.IGNORECASE
)
# Words, shortly before a number, that say what else it is.
_OTHER_BEFORE = re.compile(
    r"(?:\b(?:code|otp|pin|passcode|password|verification|one[- ]?time|2fa|cvv|cvc)\b"
    r"(?:\W+\w+){0,4}"
    r"|\b(?:zip|zipcode|postal|postcode|post\s?code|phone|tel|telephone|mobile|cell|call|text"
    r"|whatsapp|fax|card|ending|ends?|digits|last\s(?:4|four)|apt|apartment|unit|suite|ste"
    r"|room|rm|floor|building|bldg|lot|box|house|flat|ticket|case|claim|rma|sku|model|item"
    r"|product|part|size|version|qty|quantity|price|cost|costs|costing|paid|pay|total"
    r"|charged|spent|worth|balance|points|tracking|page|step|chapter|line|row|level|age"
    r"|aged|weighs?|weight|height|x)\b"
    r"(?:\W+(?:is|was|are|no|number|num|nr|of|the|my|it|s|in|code|digits))*)\W{0,3}$",
    re.IGNORECASE,
)
_OTHER_AFTER = re.compile(
    r"^\s?(?:%|x\b|[.,]?\d|(?:pcs?|pieces?|units?|items?|pairs?|boxes|packs?|more|of|times"
    r"|ml|kg|lbs?|oz|mm|cm|km|ft|feet|inch(?:es)?|gb|tb|mb|mah|watts?|hz|rpm|days?|hours?"
    r"|hrs?|minutes?|mins?|weeks?|months?|years?|yrs?|dollars?|usd|bucks|euros?|eur|gbp"
    r"|pounds?|rs|rupees?|inr|cents?|points?|miles?|people|calories|sq|am|pm)\b)",
    re.IGNORECASE,
)
_STREET_AFTER = re.compile(
    r"^\s+(?:[A-Za-z]+\.?\s+){0,3}?(?:st|street|ave|avenue|rd|road|blvd|boulevard|ln|lane"
    r"|dr|drive|way|ct|court|pl|place|pkwy|parkway|hwy|highway|ter|terrace|cir|circle|trl"
    r"|trail|sq|square)\b",
    re.IGNORECASE,
)
# A US zip after its state ("Springfield, IL 62704", "Denver CO 80279") or a labelled code.
_ZIP_BEFORE = re.compile(
    r"(?:,\s?[A-Z]{2},?\s|\b[A-Z][a-z]+\s[A-Z]{2}\s)$"
    r"|(?i:(?:zip|postal|post\s?code|postcode|pin)\W{0,3}(?:code)?\W{0,3}(?:is\s)?\W{0,2}$)"
)
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_YEAR_BEFORE = re.compile(
    rf"(?:\b(?:in|since|from|of|year|until|till|by|before|after|during|back|early|late|mid"
    rf"|{_MONTHS})\W{{0,3}}|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s)$",
    re.IGNORECASE,
)
_EMAILISH = re.compile(r"\S+@\S+")
_LIST_GAP = re.compile(r"(?:\s*(?:[,;&+]|\band\b|\bor\b|\bplus\b|\balso\b)\s*)+#?\s*")
_FIXED_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d)*(?!\d)")
_COMPACT_RUN = re.compile(r"(?<!\d)\d+(?!\d)")

_Path = Literal["marked", "cued", "weak", "fixed_bare"]


@lru_cache(maxsize=256)
def _reader(fmt: OrderNumberFormat) -> _Reader:
    return _Reader(fmt)


class _Reader:
    """The rules of the module's docstring for one format, compiled once."""

    def __init__(self, fmt: OrderNumberFormat) -> None:
        self.fmt = fmt
        core = re.sub(r"[\W_]+", "", fmt.prefix).lower()
        # The prefix's letters mark the number ("SF-1001", "w 261 1340"); with none, the "#".
        self.marker = (
            re.compile(rf"(?:^|[^a-z0-9])#?\s?{re.escape(core)}\s?[-#:]?\s?$", re.IGNORECASE)
            if core
            else _HASH_END
        )
        self.hash_is_marker = not core
        suffix = re.sub(r"[\W_]+", "", fmt.suffix)
        self.suffix = re.compile(rf"[\s-]?{re.escape(suffix)}\b", re.IGNORECASE) if suffix else None
        self.runs = _COMPACT_RUN if fmt.width is None else _FIXED_RUN

    def spans(self, text: str, awaiting: str | None) -> Iterator[Span]:
        phones: list[tuple[int, int]] | None = None
        emails = [(m.start(), m.end()) for m in _EMAILISH.finditer(text)] if "@" in text else []
        last_end = -1
        for m in self.runs.finditer(text):
            start, end = m.start(), m.end()
            if any(s <= start < e for s, e in emails):
                continue
            if self.suffix is not None and (sm := self.suffix.match(text, end)):
                end = sm.end()
            before = text[max(0, start - _WINDOW) : start]
            after = text[end : end + _WINDOW]
            listed = last_end >= 0 and _LIST_GAP.fullmatch(text[last_end:start]) is not None
            path = self._path(before, after, awaiting, listed)
            if path is None:
                continue
            digits = self._digits(m.group(0), path)
            if digits is None or not self._plausible(text, start, end, before, after, path):
                continue
            if path in ("weak", "fixed_bare"):
                if phones is None:
                    phones = _phone_spans(text)
                if any(s < end and start < e for s, e in phones):
                    continue
            last_end = end
            yield start, end, self.fmt.name(digits)

    def _path(self, before: str, after: str, awaiting: str | None, listed: bool) -> _Path | None:
        if not self.hash_is_marker and self.marker.search(before):
            return "marked"
        cue = self._cue(before, after)
        if cue == "strong":
            return "cued"
        if cue == "object":
            return None  # "to order 500 pens": what is ordered, even when an id was asked for
        if _HASH_END.search(before):
            if _HASH_OTHER.search(before):
                return None
            if self.hash_is_marker or self.fmt.width is None:
                return "marked"
            return "fixed_bare"  # "#2611340": the demo store's width, with its "#"
        if cue == "weak" or listed or awaiting == AWAITING_ORDER:
            return "weak"
        if self.fmt.width is not None and awaiting != AWAITING_CODE:
            return "fixed_bare"
        return None

    def _cue(self, before: str, after: str) -> Literal["strong", "weak", "object"] | None:
        words = _WORD.findall(before.lower())[-5:]
        while words and words[-1] in _FILLERS:
            words.pop()
        if not words:
            return None
        if self.fmt.width is not None:
            return "strong" if _loose_cue(words[-1]) else None
        if not _strict_cue(words[-1]):
            return None
        before_cue = words[-2] if len(words) >= 2 else ""
        subject = words[-3] if len(words) >= 3 else ""
        if before_cue in _VERB_BEFORE or (before_cue in _MODALS and subject in _PRONOUNS):
            following = _WORD.match(after.lstrip().lower())
            if following and following.group(0) not in _FUNCTION_WORDS:
                return "object"
            return "weak"
        return "strong"

    def _digits(self, run: str, path: _Path) -> str | None:
        width = self.fmt.width
        if width is None:
            return run if MIN_DIGITS <= len(run) <= MAX_DIGITS else None
        if path in ("marked", "cued"):
            return _lenient_digits(run, width)
        compact = run.replace(" ", "").replace("-", "")
        if path == "fixed_bare":
            return run if run == compact and len(run) == width else None
        return compact if len(compact) == width else None

    def _plausible(
        self, text: str, start: int, end: int, before: str, after: str, path: _Path
    ) -> bool:
        """False when the number is glued to letters or is a piece of another number, or
        (unless marked or cued) when its context says it is something else."""
        weak = path in ("weak", "fixed_bare")
        if self.fmt.width is not None and not weak:
            return True  # the demo store's ids with a prefix or a cue, as always read
        if _fragment(text, start, end, grouped=weak):
            return False
        if weak and text[start - 1 : start].isalpha():
            return False  # "RTX4090"; "#W5500001" where the store writes "#1001"
        if text[end : end + 1].isalpha():
            return False  # "1001st", "100ml"
        if path == "marked":
            return True
        if _OTHER_AFTER.match(after):
            return False  # "order 150 dollars" as much as "1001 units"
        if path == "cued":
            return True
        if _CURRENCY_BEFORE.search(before) or _OTHER_BEFORE.search(before):
            return False
        if _STREET_AFTER.match(after) or _ZIP_BEFORE.search(before):
            return False
        number = text[start:end]
        if number.isdigit() and len(number) == 4 and 1900 <= int(number) <= 2099:
            return _YEAR_BEFORE.search(before) is None
        return True


def _strict_cue(word: str) -> bool:
    if word in _CUES:
        return True
    if word in _NOT_CUES or word.endswith(("ed", "ing", "ly")):
        return False
    # Glued to a short word before it: "oforder", "myorder".
    if any(word.endswith(k) and len(word) - len(k) <= 4 for k in _CUES):
        return True
    # Typos: "ordr", "oder", "oredr", "pucrhase".
    return word[:1] in ("o", "p") and any(
        SequenceMatcher(None, word, k).ratio() >= 0.8 for k in ("order", "purchase")
    )


def _loose_cue(word: str) -> bool:
    if any(k in word for k in _CUES):
        return True  # glued forms: "oforder", "thisorder"
    return any(SequenceMatcher(None, word, k).ratio() >= 0.7 for k in ("order", "purchase"))


def _lenient_digits(run: str, width: int) -> str | None:
    """A fixed-width id's digits from a run that may be grouped ("261 1340", "2 611 340"); a
    first group of ``width - 1`` digits or more is taken whole (the training data's ids)."""
    parts = re.split(r"[ -]+", run.strip())
    if len(parts[0]) >= width - 1:
        return parts[0]
    acc = ""
    for part in parts:
        acc += part
        if len(acc) == width:
            return acc
        if len(acc) > width:
            return None
    return None


def _fragment(text: str, start: int, end: int, *, grouped: bool) -> bool:
    """A piece of a decimal, a date or a time ("10.01", "1,001", "12/05", "10:30"); when
    ``grouped``, also of a number written in groups ("415 555 0132", "2024-05-12")."""
    joints = "[.,/:]" if not grouped else "[.,/: -]"
    before, after = text[max(0, start - 2) : start], text[end : end + 2]
    return bool(re.match(rf"{joints}\d", after) or re.search(rf"\d{joints}$", before))


def _phone_spans(text: str) -> list[tuple[int, int]]:
    if sum(c.isdigit() for c in text) < 7:
        return []
    matcher = phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.VALID)
    return [(m.start, m.end) for m in matcher]
