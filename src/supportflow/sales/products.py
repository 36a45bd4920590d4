"""Answers to product questions from the store's catalogue, as it is now (issue 14).

Handed one product document (the demo store's / tau2 shape: ``variants`` keyed by item id,
each with ``options``, ``available`` and ``price``) and the variants the customer named, it
says what those cost and whether they are in stock, what is in stock instead of a sold-out
one (the same product, as close to it as the catalogue allows), and how two or more named
variants compare in price. Pure: no I/O, so the activity that reads the store and any
workflow-side step can share it.

The models cross the activity boundary and sit in recorded workflow histories: every field
added after the first has a default, and unknown fields are ignored (pydantic's default), so
old payloads still load.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from supportflow.procedures.facts import money

# The variants answered for per product, and the in-stock ones offered per sold-out one:
# a chat reply, not a catalogue page.
MAX_ASKED = 5
MAX_ALTERNATIVES = 3

# A value that carries its own unit reads alone ("1000ml", "6 ft", "13-inch", "4GB").
_UNIT = re.compile(r"\d\s*-?\s*[a-z]", re.IGNORECASE)
_LEVELS = frozenset({"low", "medium", "high"})


class VariantAnswer(BaseModel):
    label: str
    available: bool
    price: str
    # Added for the sales agent (issue 14); absent from payloads recorded before.
    item_id: str | None = None
    # Set against another variant (the sold-out one an alternative replaces, or the other end
    # of a comparison): this one's values on the options where the two differ, and the same
    # in words ("size 10", "stainless steel").
    differs: dict[str, str] = Field(default_factory=dict)
    differs_words: list[str] = Field(default_factory=list)


class Alternatives(BaseModel):
    """In-stock variants of the same product offered for a named one that is sold out."""

    item_id: str
    label: str
    # Most options in common first, then the closest price, then item id.
    variants: list[VariantAnswer] = Field(default_factory=list)


class Comparison(BaseModel):
    """The cheapest and the dearest of the named variants (two or more)."""

    count: int
    cheaper: VariantAnswer
    dearer: VariantAnswer
    # dearer minus cheaper, as money ("$0.00" when they cost the same).
    difference: str
    same_price: bool
    # The options on which the two differ, in the product's order.
    differs_in: list[str] = Field(default_factory=list)


class ProductAnswer(BaseModel):
    name: str
    price_range: str
    in_stock: int
    variants: int
    options: dict[str, list[str]]
    # The variants the customer named, with their availability and price.
    asked: list[VariantAnswer] = Field(default_factory=list)
    # Added for the sales agent (issue 14); absent from payloads recorded before.
    alternatives: list[Alternatives] = Field(default_factory=list)
    comparison: Comparison | None = None


class ProductAnswers(BaseModel):
    products: list[ProductAnswer] = Field(default_factory=list)


def answer_product(product: Mapping[str, Any], asked_item_ids: Sequence[str]) -> ProductAnswer:
    """What the store says about ``product`` and the variants named by ``asked_item_ids``
    (best understood first; ids not of this product are ignored, at most ``MAX_ASKED``)."""
    variants: list[Mapping[str, Any]] = [v for v in (product.get("variants") or {}).values() if v]
    options: dict[str, list[str]] = {}
    for v in variants:
        for key, value in _options(v).items():
            values = options.setdefault(key, [])
            if value not in values:
                values.append(value)
    in_stock = [v for v in variants if v.get("available")]
    prices = [float(v["price"]) for v in (in_stock or variants) if v.get("price") is not None]
    low, high = (min(prices), max(prices)) if prices else (0.0, 0.0)
    by_id = {str(v.get("item_id")): v for v in variants}
    asked = [by_id[i] for i in dict.fromkeys(asked_item_ids) if i in by_id][:MAX_ASKED]
    return ProductAnswer(
        name=str(product.get("name", "")),
        price_range=money(low) if low == high else f"{money(low)} to {money(high)}",
        in_stock=len(in_stock),
        variants=len(variants),
        options=options,
        asked=[_variant(v) for v in asked],
        alternatives=_alternatives(asked, in_stock),
        comparison=_comparison(asked),
    )


def variant_label(options: Mapping[str, object]) -> str:
    """ "clicky, no backlight, full size": a yes/no option reads as words, not "none"."""
    words = []
    for key, value in options.items():
        v = str(value)
        words.append(
            f"no {key}" if v.lower() in ("none", "no") else key if v.lower() == "yes" else v
        )
    return ", ".join(words)


def option_words(key: str, value: str) -> str:
    """One option's value as it reads after "the same in" or before "one": a value with its
    own unit alone ("6 ft"), a bare number or code with its option's name ("size 10",
    "size XL"), a level before it ("high ventilation"), a yes/no as words."""
    v = value.strip()
    low = v.lower()
    if low in ("none", "no"):
        return f"no {key}"
    if low == "yes":
        return key
    if _UNIT.search(v):
        return v
    if "size" in key.lower() or any(c.isdigit() for c in v) or (len(v) <= 3 and v.isupper()):
        return f"{key} {v}"
    if low in _LEVELS:
        return f"{v} {key}"
    return v


def _options(variant: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (variant.get("options") or {}).items()}


def _price(variant: Mapping[str, Any]) -> float:
    return float(variant.get("price") or 0.0)


def _variant(v: Mapping[str, Any], against: Mapping[str, Any] | None = None) -> VariantAnswer:
    differs = _differs(v, against) if against is not None else {}
    return VariantAnswer(
        label=variant_label(v.get("options") or {}),
        available=bool(v.get("available")),
        price=money(_price(v)),
        item_id=str(v.get("item_id")),
        differs=differs,
        differs_words=[option_words(k, val) for k, val in differs.items()],
    )


def _differs(v: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, str]:
    """``v``'s values on the options where it differs from ``other``."""
    theirs = _options(other)
    return {k: val for k, val in _options(v).items() if theirs.get(k) != val}


def _alternatives(
    asked: Sequence[Mapping[str, Any]], in_stock: Sequence[Mapping[str, Any]]
) -> list[Alternatives]:
    """For each sold-out named variant, the in-stock ones closest to it (no entry when none
    is). A variant the customer named is already answered, and one offered for an earlier
    sold-out variant is not offered again: the reply never says the same thing twice."""
    taken = {str(v.get("item_id")) for v in asked}
    out: list[Alternatives] = []
    for wanted in asked:
        if wanted.get("available"):
            continue
        candidates = [v for v in in_stock if str(v.get("item_id")) not in taken]
        best = sorted(candidates, key=functools.partial(_closeness, wanted=wanted))
        best = best[:MAX_ALTERNATIVES]
        if not best:
            continue  # nothing else in stock: the reply says so
        taken.update(str(v.get("item_id")) for v in best)
        out.append(
            Alternatives(
                item_id=str(wanted.get("item_id")),
                label=variant_label(wanted.get("options") or {}),
                variants=[_variant(v, against=wanted) for v in best],
            )
        )
    return out


def _closeness(v: Mapping[str, Any], wanted: Mapping[str, Any]) -> tuple[int, float, str]:
    """Sort key of ``v`` as a stand-in for ``wanted``: most option values in common, then the
    closest price (rounded to cents, so float noise cannot reorder equal gaps), then id."""
    want = _options(wanted)
    shared = sum(1 for k, val in _options(v).items() if want.get(k) == val)
    return (-shared, round(abs(_price(v) - _price(wanted)), 2), str(v.get("item_id")))


def _comparison(asked: Sequence[Mapping[str, Any]]) -> Comparison | None:
    """The cheapest and the dearest named variants, when two or more were named (of equal
    prices, the cheaper is the one named first). None when the two have the same options:
    nothing tells them apart."""
    if len(asked) < 2:
        return None
    order = sorted(range(len(asked)), key=lambda i: (_price(asked[i]), i))
    # Every one the same price: the first and the last named.
    cheap, dear = asked[order[0]], asked[order[-1]]
    cheaper, dearer = _variant(cheap, against=dear), _variant(dear, against=cheap)
    differs_in = list(dict.fromkeys([*cheaper.differs, *dearer.differs]))
    if not differs_in:
        return None
    gap = round(_price(dear) - _price(cheap), 2)
    return Comparison(
        count=len(asked),
        cheaper=cheaper,
        dearer=dearer,
        difference=money(gap),
        same_price=gap == 0,
        differs_in=differs_in,
    )
