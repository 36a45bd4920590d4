"""One-off discount codes for the sales agent: ``discountCodeBasicCreate`` (percentage or fixed
amount off the order) and ``discountCodeFreeShippingCreate``.

At most once per idempotency key, although Shopify's mutations take no key:

- the code is derived from the key when the spec names none (``SF`` + 12 characters of a
  SHA-256), and every code this adapter makes carries ``[supportflow:<hash of the key>]`` in its
  title, which merchants see in the admin but buyers never do;
- before creating, the adapter reads the code (``codeDiscountNodeByCode``, case-insensitive). A
  code with this key's marker is the one an earlier attempt made (its answer lost, say): it is
  returned and nothing is created. A code without the marker is someone else's: refused.
- a ``userErrors`` answer is checked against a fresh read the same way, for two attempts racing.

Each code is for one use per customer (``appliesOncePerCustomer``), ``usage_limit`` uses in
all, on every product (``items: {all: true}``), from now until ``expires_at``; for one customer
(``customerSelection.customers.add``, Admin API 2025-07; ``context`` replaces it from 2025-10)
when the spec names one, for every buyer otherwise. Percentages are sent as Shopify's fraction
(10 % -> 0.1).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from supportflow.store.adapters.shopify.fields import (
    CUSTOMER_GID,
    Doc,
    dicts,
    gid,
    nodes,
    path,
    user_errors,
)
from supportflow.store.adapters.shopify.queries import (
    M_DISCOUNT_BASIC,
    M_DISCOUNT_FREE_SHIPPING,
    Q_DISCOUNT_BY_CODE,
)
from supportflow.store.adapters.shopify.reads import ShopifyReads
from supportflow.store.errors import StoreRejected, StoreUnavailable
from supportflow.store.port import DiscountSpec

log = logging.getLogger(__name__)

DISCOUNT_CODE_PREFIX = "SF"
_KINDS = ("percentage", "fixed_amount", "free_shipping")
# Shopify codes are at most 255 characters; ours stay printable and without spaces.
_CODE = re.compile(r"[!-~]{1,255}")


@dataclass(frozen=True)
class _Plan:
    """A validated spec, in Shopify's terms."""

    code: str
    marker: str
    mutation: str
    root: str
    variables: dict[str, Any]


class ShopifyDiscounts(ShopifyReads):
    async def create_discount_code(self, spec: DiscountSpec, idempotency_key: str) -> Doc:
        """Create the code (or return the one this key already made); the port's shape plus
        ``external`` (Shopify's GID)."""
        plan = _plan(spec, idempotency_key, now=datetime.now(UTC))
        existing = await self._discount_node(plan.code)
        if existing is not None:
            log.info("shopify discount for this key exists already; nothing to create")
            return _ours_or_refused(existing, plan.marker)
        payload = (await self.graphql(plan.mutation, plan.variables)).get(plan.root) or {}
        errors = user_errors(payload, "userErrors")
        if errors:
            again = await self._discount_node(plan.code)
            if again is not None and _is_ours(again, plan.marker):
                return map_discount(again)  # a retry that raced its own earlier attempt
            raise StoreRejected(f"Shopify refused the discount code: {errors}", status_code=422)
        node = payload.get("codeDiscountNode")
        if not isinstance(node, dict):
            node = await self._discount_node(plan.code)
        if node is None:
            raise StoreUnavailable("Shopify answered without the discount code it created")
        return map_discount(node)

    async def _discount_node(self, code: str) -> Doc | None:
        node = (await self.graphql(Q_DISCOUNT_BY_CODE, {"code": code})).get(
            "codeDiscountNodeByCode"
        )
        return node if isinstance(node, dict) else None


def discount_code(idempotency_key: str) -> str:
    """The code made for this key when the spec names none: short, stable, unambiguous to
    read out (base32: capitals and 2-7)."""
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    return DISCOUNT_CODE_PREFIX + base64.b32encode(digest).decode()[:12]


def discount_marker(idempotency_key: str) -> str:
    # A hash, not the key: the key names workflows, which merchants need not see.
    return f"[supportflow:{hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]}]"


def map_discount(node: Mapping[str, Any]) -> Doc:
    """A ``DiscountCodeNode`` (as ``CODE_DISCOUNT_FIELDS`` selects it) in the port's shape."""
    discount = node.get("codeDiscount") or {}
    codes = nodes(discount.get("codes"))
    value_node = path(discount, "customerGets", "value") or {}
    kind: str
    value: float
    if discount.get("__typename") == "DiscountCodeFreeShipping":
        kind, value = "free_shipping", 0.0
    elif value_node.get("__typename") == "DiscountAmount":
        amount = path(value_node, "amount", "amount") or 0
        kind, value = "fixed_amount", float(Decimal(str(amount)))
    else:
        # Shopify keeps a fraction (0.1); the port speaks percent (10).
        kind = "percentage"
        value = float(Decimal(str(value_node.get("percentage") or 0)) * 100)
    customers = dicts(path(discount, "customerSelection", "customers"))
    return {
        "code": codes[0].get("code") if codes else None,
        "kind": kind,
        "value": value,
        "expires_at": _utc_text(discount.get("endsAt")),
        "usage_limit": discount.get("usageLimit"),
        "customer_id": customers[0].get("id") if len(customers) == 1 else None,
        "external": {"system": "shopify", "id": node.get("id")},
    }


def _plan(spec: DiscountSpec, idempotency_key: str, *, now: datetime) -> _Plan:
    """The mutation for ``spec``; refused (422) when the spec cannot be a Shopify code."""
    if spec.kind not in _KINDS:
        raise _invalid(f"kind must be one of {list(_KINDS)}")
    if spec.kind == "percentage" and not (math.isfinite(spec.value) and 1 <= spec.value <= 100):
        raise _invalid("a percentage discount must be between 1 and 100")
    if spec.kind == "fixed_amount" and not (math.isfinite(spec.value) and spec.value > 0):
        raise _invalid("a fixed amount discount must be a positive amount")
    if isinstance(spec.usage_limit, bool) or not isinstance(spec.usage_limit, int):
        raise _invalid("usage_limit must be a whole number")
    if spec.usage_limit < 1:
        raise _invalid("usage_limit must be at least 1")
    if spec.expires_at.tzinfo is None:
        raise _invalid("expires_at must be timezone-aware")
    if spec.expires_at <= now:
        raise _invalid("expires_at is not in the future")
    if not idempotency_key:
        raise _invalid("an idempotency key is required")
    if spec.code is None:
        code = discount_code(idempotency_key)
    else:
        code = spec.code.strip()
        if not _CODE.fullmatch(code):
            raise _invalid("a discount code is 1-255 printable characters without spaces")
    selection: dict[str, Any] = {"all": True}
    if spec.customer_id is not None:
        customer = gid(spec.customer_id, CUSTOMER_GID)
        if customer is None:
            raise _invalid("customer_id is not a Shopify customer id")
        selection = {"all": False, "customers": {"add": [customer]}}
    marker = discount_marker(idempotency_key)
    common: dict[str, Any] = {
        "title": f"supportflow offer {marker}",
        "code": code,
        "startsAt": _utc_text(now),
        "endsAt": _utc_text(spec.expires_at),
        "customerSelection": selection,
        "usageLimit": spec.usage_limit,
        "appliesOncePerCustomer": True,
    }
    if spec.kind == "free_shipping":
        shipping = {**common, "destination": {"all": True}}
        return _Plan(
            code,
            marker,
            M_DISCOUNT_FREE_SHIPPING,
            "discountCodeFreeShippingCreate",
            {"freeShippingCodeDiscount": shipping},
        )
    value: dict[str, Any]
    if spec.kind == "percentage":
        value = {"percentage": float(Decimal(str(spec.value)) / 100)}
    else:
        amount = str(Decimal(str(spec.value)).quantize(Decimal("0.01")))
        value = {"discountAmount": {"amount": amount, "appliesOnEachItem": False}}
    basic = {**common, "customerGets": {"value": value, "items": {"all": True}}}
    return _Plan(
        code, marker, M_DISCOUNT_BASIC, "discountCodeBasicCreate", {"basicCodeDiscount": basic}
    )


def _is_ours(node: Mapping[str, Any], marker: str) -> bool:
    return marker in str(path(node, "codeDiscount", "title") or "")


def _ours_or_refused(node: Mapping[str, Any], marker: str) -> Doc:
    if not _is_ours(node, marker):
        # Not echoing the code: it is the shop's, and codes stay out of logs.
        raise StoreRejected(
            "the shop already has a discount with this code that supportflow did not make "
            "for this offer",
            status_code=409,
        )
    return map_discount(node)


def _utc_text(value: object) -> str | None:
    """ISO 8601 in UTC with a ``Z`` (Shopify's ``DateTime``), from a datetime or its text."""
    if value is None:
        return None
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)  # Shopify's own text, passed on rather than failing the write
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _invalid(message: str) -> StoreRejected:
    return StoreRejected(f"discount not created: {message}", status_code=422)
