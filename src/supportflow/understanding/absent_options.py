"""Options the customer named that no variant of the product has: no variant, not a wrong one.

``items.match_items`` scores a product's variants by how many of their option values the text
names, and returns the best. When the customer asks for a variant the store does not sell
("the green office chair" where chairs come in black, blue, gray and red; "a clicky 60% keyboard
with white backlight" where no keyboard has all three), the best are only partial matches, and
acting on one of them (an exchange, a return) would act on an item the customer did not name.
This check drops such a product's matches, so the procedures ask which item is meant.

What counts as named for a product: the option values written right before its name ("green
mesh office chair", "black and white sneakers") or right after it ("office chair in green",
"keyboard with clicky, 60%"), and a size written as one ("size 13 hiking boots", "the boots
in size 13": a number or a letter size, even one the catalogue has nowhere). Every mention of
the product is read on its own, since an exchange names the old variant and the new one ("my
black kettle for a white kettle"). A value is only weighed against an option the product has
(a color where the product has colors): "black mechanical keyboard" describes a keyboard the
store does not sell by color, and is not a request for a variant that does not exist. Values
are the catalogue's own option values; yes/no/none and one-letter values ("S", "M") are too
common to read this way.

A product is dropped when a mention names a value of one of its options that none of its
variants has, or names values (of distinct options) that no single variant has together.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from supportflow.understanding.catalogue import Catalogue, CatalogueProduct
from supportflow.understanding.contract import ItemMatch

_SKIPPED = frozenset({"yes", "no", "none"})
_WINDOW = 80  # characters read before a product's name
_CACHE_SIZE = 32
_JOIN = r"(?:\s*(?:,|/|&|\band\b|\bor\b)\s*|\s+)"
# "size 13", "size: XL": a size whatever the catalogue holds (numbers and letter sizes only,
# so "what size is it" names none).
_SIZE_VALUE = r"size\s*:?\s*(\d+(?:\.\d)?|x{0,3}[sml]|\d?x{1,3}l)\b"
_SIZE_BEFORE = re.compile(rf"\b{_SIZE_VALUE}[\s,]*$")
_SIZE_AFTER = re.compile(rf"(?:\s*(?:in|,|:|-)?\s*)?(?:a\s+|us\s+|eu\s+|uk\s+)?{_SIZE_VALUE}")
SIZE = "size"


@dataclass(frozen=True)
class _Vocabulary:
    """A catalogue's option values: by compact form, the option names each is a value of
    (anywhere in the catalogue), and one pattern matching any of them."""

    keys: dict[str, frozenset[str]]
    before: re.Pattern[str] | None
    after: re.Pattern[str] | None


def without_absent_options(
    text: str, catalogue: Catalogue, matches: Sequence[ItemMatch]
) -> list[ItemMatch]:
    """``matches`` less those of products for which ``text`` names options that exist on no
    variant (see the module's docstring)."""
    if not matches:
        return list(matches)
    vocabulary = _vocabulary(catalogue)
    if vocabulary.before is None:
        return list(matches)
    lowered = text.lower()
    matched = {m.product_id for m in matches}
    absent = {
        p.product_id
        for p in catalogue.products
        if p.product_id in matched and _asks_for_absent(p, lowered, vocabulary)
    }
    return [m for m in matches if m.product_id not in absent]


def _asks_for_absent(product: CatalogueProduct, text: str, vocabulary: _Vocabulary) -> bool:
    own: dict[str, set[str]] = {}  # compact value -> this product's option names having it
    for variant in product.variants:
        for key, value in variant.options:
            own.setdefault(_compact(value), set()).add(key.lower())
    keys = {k for ks in own.values() for k in ks}
    for named in _named_values(product, text, vocabulary):
        required: dict[str, set[str]] = {}  # option name -> values named for it
        for value, hint in named:
            if hint is not None:  # a size: weighed only against the product's own sizes
                if hint in keys and hint not in own.get(value, set()):
                    return True
                if hint in keys:
                    required.setdefault(hint, set()).add(value)
            elif value in own:
                if len(own[value]) == 1:  # a value of two options leaves it open which
                    required.setdefault(next(iter(own[value])), set()).add(value)
            elif vocabulary.keys.get(value, frozenset()) & keys:
                return True  # a value of one of its options that no variant has
        if required and not any(_has_all(v.options, required) for v in product.variants):
            return True
    return False


def _has_all(options: tuple[tuple[str, str], ...], required: dict[str, set[str]]) -> bool:
    mine = {k.lower(): _compact(v) for k, v in options}
    return all(mine.get(key) in values for key, values in required.items())


def _named_values(
    product: CatalogueProduct, text: str, vocabulary: _Vocabulary
) -> Iterator[list[tuple[str, str | None]]]:
    """For each mention of the product, the option values written around it: (compact value,
    ``SIZE`` for a size written as one, else None)."""
    assert vocabulary.before is not None and vocabulary.after is not None
    for mention in product.pattern.finditer(text):
        named: list[tuple[str, str | None]] = []
        end = mention.start()
        start = max(0, end - _WINDOW)
        while True:
            if (m := vocabulary.before.search(text, start, end)) is not None:
                named.append((_compact(m.group(1)), None))
            elif (m := _SIZE_BEFORE.search(text, start, end)) is not None:
                named.append((_compact(m.group(1)), SIZE))
            else:
                break
            end = m.start()
        rest = text[mention.end() : mention.end() + _WINDOW]
        if (m := _SIZE_AFTER.match(rest)) is not None:
            named.append((_compact(m.group(1)), SIZE))
            rest = rest[m.end() :]
        lead = re.match(r"\s*(?:in|with|,|:|-)\s*", rest)
        pos = lead.end() if lead else len(rest)
        while True:
            if (m := vocabulary.after.match(rest, pos)) is not None:
                named.append((_compact(m.group(1)), None))
            elif (m := _SIZE_AFTER.match(rest, pos)) is not None:
                named.append((_compact(m.group(1)), SIZE))
            else:
                break
            pos = m.end()
        if named:
            yield named


def _compact(value: str) -> str:
    return re.sub(r"[\s\-_]+", "", value.lower())


def _value_pattern(value: str) -> str:
    """``value`` as customers write it: any case, spaces or hyphens or neither between words
    and between a number and its unit ("1000ml", "1000 ml", "13-inch", "13 inch")."""
    out: list[str] = []
    previous = ""
    for c in value.lower():
        if c in " -_":
            if out and out[-1] != r"[\s\-]?":
                out.append(r"[\s\-]?")
        else:
            if previous.isdigit() != c.isdigit() and previous.isalnum() and c.isalnum():
                out.append(r"[\s\-]?")
            out.append(re.escape(c))
        previous = c
    return "".join(out)


_lock = threading.Lock()
_cache: OrderedDict[int, tuple[Catalogue, _Vocabulary]] = OrderedDict()


def _vocabulary(catalogue: Catalogue) -> _Vocabulary:
    """Built once per catalogue object (kept by identity: a tenant's catalogue is one object
    for minutes, and hashing a large one would cost more than the check)."""
    with _lock:
        hit = _cache.get(id(catalogue))
        if hit is not None and hit[0] is catalogue:
            _cache.move_to_end(id(catalogue))
            return hit[1]
    vocabulary = _build(catalogue)
    with _lock:
        _cache[id(catalogue)] = (catalogue, vocabulary)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return vocabulary


def _build(catalogue: Catalogue) -> _Vocabulary:
    keys: dict[str, set[str]] = {}
    written: dict[str, str] = {}
    for product in catalogue.products:
        for variant in product.variants:
            for key, value in variant.options:
                v = value.strip().lower()
                if len(v) < 2 or v in _SKIPPED:
                    continue
                keys.setdefault(_compact(v), set()).add(key.lower())
                written.setdefault(_compact(v), v)
    if not written:
        return _Vocabulary({}, None, None)
    # Longest first, so "stainless steel" is read before "steel" could be.
    alternatives = "|".join(
        _value_pattern(v) for v in sorted(written.values(), key=lambda v: (-len(v), v))
    )
    value = rf"(?<![\w-])({alternatives})(?![\w-])"
    return _Vocabulary(
        keys={k: frozenset(v) for k, v in keys.items()},
        before=re.compile(rf"{value}{_JOIN}$"),
        after=re.compile(rf"(?:{_JOIN})?{value}"),
    )
