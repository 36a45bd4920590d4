"""Reading Shopify's JSON without trusting its shape, and its money as exact cents.

Shopify leaves out what a token may not see and answers ``null`` for what is gone, so every
read here tolerates a missing or mistyped value instead of raising ``KeyError`` half way
through a mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Doc = dict[str, Any]

ORDER_GID = "gid://shopify/Order/"
CUSTOMER_GID = "gid://shopify/Customer/"


def path(value: object, *keys: str) -> Any:
    """``value[k1][k2]...``, or ``None`` where a step is missing or not a mapping."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def dicts(value: object) -> list[Doc]:
    """The objects of a JSON list (anything else: none)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def nodes(connection: object) -> list[Doc]:
    """The ``nodes`` of a GraphQL connection."""
    return dicts(path(connection, "nodes"))


def fold(value: object) -> str:
    """For comparing names and emails: stripped, case-folded, ``None`` as empty."""
    return str(value or "").strip().casefold()


def digits(value: object) -> str:
    return re.sub(r"\D", "", str(value or ""))


def gid(value: str, prefix: str) -> str | None:
    """The global id for ``value`` (a GID already, or its numeric tail); ``None`` otherwise."""
    value = value.strip()
    if value.startswith(prefix):
        return value
    return prefix + value if value.isdigit() else None


def search_value(value: str) -> str:
    # Quoted, without what could end the quote or start another term.
    cleaned = re.sub(r'["\\]', "", value.strip())
    return f'"{cleaned}"'


def money(money_set: object) -> float:
    """The shop-currency amount of a ``MoneyBag`` (``shopMoney``)."""
    amount = path(money_set, "shopMoney", "amount")
    return float(Decimal(str(amount))) if amount is not None else 0.0


def to_cents(amount: float) -> int:
    return int((Decimal(str(amount)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cents_text(cents: int) -> str:
    """Cents as the decimal string Shopify's money inputs take."""
    return str(Decimal(cents) / 100)


def user_errors(payload: Mapping[str, Any], *fields: str) -> str:
    """The ``userErrors`` (and kin) of a mutation's payload as one message; empty when none."""
    messages = []
    for field in fields:
        for error in dicts(payload.get(field)):
            where = ".".join(str(p) for p in error.get("field") or [])
            code = error.get("code")
            text = str(error.get("message"))
            messages.append(f"{where + ': ' if where else ''}{text}{f' ({code})' if code else ''}")
    return "; ".join(dict.fromkeys(messages))  # the deprecated userErrors repeats the others
