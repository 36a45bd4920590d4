"""Read the details a procedure needs out of a turn: pure, deterministic text rules on top of
the understanding's entities (reason, items), for what the engines do not extract (addresses,
payment methods, variant options)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from supportflow.procedures.case import CancelReason
from supportflow.procedures.facts import (
    Address,
    OrderItem,
    OrderSnapshot,
    PaymentMethod,
    Product,
    Variant,
)
from supportflow.understanding.contract import ItemMatch, Understanding
from supportflow.understanding.entities import plain_text
from supportflow.understanding.items import said_absent

_MISTAKE = re.compile(r"\bmistake|\bby accident|\baccidental|\bwrong(ly)? order", re.I)
_NOT_NEEDED = re.compile(
    r"\bno longer need|\bdon'?t need|\bdo not need|\bnot needed|\bchanged my mind|\bdon'?t want",
    re.I,
)


def cancel_reason(u: Understanding, text: str) -> CancelReason | None:
    reason = u.entities.cancel_reason
    if reason == "no longer needed":
        return "no longer needed"
    if reason == "ordered by mistake":
        return "ordered by mistake"
    if _MISTAKE.search(text):
        return "ordered by mistake"
    if _NOT_NEEDED.search(text):
        return "no longer needed"
    return None


# -- addresses ------------------------------------------------------------------------------

_ZIP = re.compile(r"\b(\d{5}(?:-\d{4})?)\b")
_STATE_ZIP = re.compile(r"^([A-Za-z][A-Za-z .]{1,30}?)\s+(\d{5}(?:-\d{4})?)$")
_COUNTRIES = {"usa": "USA", "us": "USA", "u.s.": "USA", "u.s.a.": "USA", "united states": "USA"}
# A house number: not the digits of an order number ("#W4776164 to 44 Elm Street" starts at
# 44), and not followed by "to" (the order's number, then where it should go).
_STREET_START = re.compile(r"(?<![#\w])\d+[A-Za-z]?\s+(?!to\b)\S")


def parse_address(text: str) -> Address | None:
    """A US-style address written as "street[, apt], city, ST zip[, country]"; None if the
    text holds no such address (the agent then asks in that format). Markup is dropped first:
    an address pasted as "<b>12 Main St</b>" must not keep its tags."""
    text = plain_text(text)
    parts = [p.strip(" .") for p in re.split(r"[,\n;]+", text) if p.strip(" .")]
    if len(parts) < 3:
        return None
    country = "USA"
    if parts[-1].lower() in _COUNTRIES:
        country = _COUNTRIES[parts.pop().lower()]
    last = parts.pop()
    state_zip = _STATE_ZIP.match(last)
    if state_zip:
        state, zip_code = state_zip.group(1).strip(), state_zip.group(2)
    elif _ZIP.fullmatch(last) and parts:
        state, zip_code = parts.pop(), last
    else:
        return None
    if len(parts) < 2:
        return None
    city = parts.pop()
    start = _STREET_START.search(parts[0])
    if start is None:
        return None
    address1 = parts[0][start.start() :]
    address2 = ", ".join(parts[1:])
    try:
        return Address(
            address1=address1,
            address2=address2,
            city=city,
            state=state,
            country=country,
            zip=zip_code,
        )
    except ValidationError:
        return None


# -- payment methods ------------------------------------------------------------------------

_BRANDS = ("visa", "mastercard", "amex", "american express", "discover")


def mentioned_payment_sources(text: str) -> bool:
    t = text.lower()
    return bool(
        re.search(r"gift[ _]?card|paypal|credit[ _]card|\bcard\b|\b\d{4}\b", t)
        or any(b in t for b in _BRANDS)
    )


def match_payment(text: str, methods: Iterable[PaymentMethod]) -> list[PaymentMethod]:
    """The customer's payment methods the text names (by id, kind, brand or last four)."""
    t = text.lower()
    methods = list(methods)
    by_id = [m for m in methods if m.id.lower() in t]
    if by_id:
        return by_id
    found: list[PaymentMethod] = []
    digits = set(re.findall(r"\b(\d{4})\b", t))
    for m in methods:
        if m.source == "gift_card":
            hit = bool(re.search(r"gift ?card", t))
        elif m.source == "paypal":
            hit = "paypal" in t
        elif m.source == "credit_card":
            gift = re.sub(r"gift ?card", "", t)
            hit = (
                (m.last_four is not None and m.last_four in digits)
                or (m.brand is not None and m.brand.lower() in t)
                or ("credit card" in t)
                or (bool(re.search(r"\bcard\b", gift)) and not digits)
            )
        else:
            hit = False
        if hit:
            found.append(m)
    # "the card ending 1234" names one card even when "card" matched others.
    exact = [m for m in found if m.last_four is not None and m.last_four in digits]
    return exact or found


# -- items ----------------------------------------------------------------------------------

_ALL = re.compile(r"\b(all|everything|every item|whole order|entire order|both)\b", re.I)


def mentioned_items(order: OrderSnapshot, matches: Sequence[ItemMatch], text: str) -> list[str]:
    """Item ids of the order the customer names: exact variants first, then every item of a
    named product, then all items for "everything"."""
    in_order = {i.item_id for i in order.items}
    exact = _unique(m.item_id for m in matches if m.item_id in in_order)
    if exact:
        return exact
    products = {m.product_id for m in matches}
    by_product = _unique(i.item_id for i in order.items if i.product_id in products)
    if by_product:
        return by_product
    if _ALL.search(text):
        return _unique(i.item_id for i in order.items)
    return []


def foreign_products(order: OrderSnapshot, matches: Sequence[ItemMatch]) -> list[str]:
    """Names of products mentioned that are not in the order at all."""
    ours = {i.product_id for i in order.items}
    return _unique(m.name for m in matches if m.product_id not in ours)


@dataclass(frozen=True)
class VariantChoice:
    old: OrderItem
    new: Variant | None
    problem: str | None = None  # "unavailable" | "ambiguous" | "not_mentioned" | "same"


def _value_mentioned(key: str, value: str, text: str) -> bool:
    v = value.lower()
    if v in ("yes", "no", "none"):
        absent = said_absent(key, text)
        return absent if v != "yes" else key.lower() in text and not absent
    return re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", text) is not None


def choose_variant(
    old: OrderItem, product: Product | None, matches: Sequence[ItemMatch], text: str
) -> VariantChoice:
    """The other variant of the same product the customer asks for: one whose differing
    options are all named in the text (the most specific wins), else the understanding's
    single match of that product."""
    if product is None:
        return VariantChoice(old, None, "not_mentioned")
    t = text.lower()
    scored: list[tuple[int, Variant]] = []
    for variant in product.variants.values():
        if variant.item_id == old.item_id:
            continue
        diff = {k: v for k, v in variant.options.items() if old.options.get(k) != v}
        if diff and all(_value_mentioned(k, v, t) for k, v in diff.items()):
            scored.append((len(diff), variant))
    if not scored:
        others = _unique(
            m.item_id
            for m in matches
            if m.product_id == product.product_id and m.item_id != old.item_id
        )
        if len(others) == 1 and others[0] in product.variants:
            scored = [(1, product.variants[others[0]])]
    if not scored:
        return VariantChoice(old, None, "not_mentioned")
    best = max(n for n, _ in scored)
    top = [v for n, v in scored if n == best]
    if len(top) > 1:
        available = [v for v in top if v.available]
        if len(available) == 1:
            return VariantChoice(old, available[0])
        return VariantChoice(old, None, "ambiguous")
    chosen = top[0]
    if not chosen.available:
        return VariantChoice(old, chosen, "unavailable")
    return VariantChoice(old, chosen)


def variant_label(variant: Variant) -> str:
    return ", ".join(variant.options.values())


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)
