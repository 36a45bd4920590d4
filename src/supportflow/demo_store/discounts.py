"""Discount codes: create, read, price against a checkout, use on an order, release on cancel.

A code is refused (422, nothing changed) when it is unknown, expired, used up, another
customer's, or was offered about an order that has since been cancelled. Details never repeat
the code itself: error texts travel back into the agents' logs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from supportflow.demo_store.models import DiscountBody
from supportflow.demo_store.repository import Doc, StoreRepository, utc_now
from supportflow.demo_store.sales_records import Discount, SalesRecords
from supportflow.store.errors import StoreNotFound, StoreRejected

# Unambiguous when read aloud or typed from a text message: no 0/O, 1/I/L.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_PREFIX = "SAVE-"


@dataclass(frozen=True)
class AppliedDiscount:
    """A code as applied to an amount: ``amount_cents`` off (0 for free shipping)."""

    code: str
    kind: str
    amount_cents: int

    def as_entry(self) -> Doc:
        """The ``discount_codes`` entry on a checkout or order (store kinds, amount float)."""
        return {"code": self.code, "amount": self.amount_cents / 100, "type": self.kind}


def normalize_code(code: str) -> str:
    return code.strip().upper()


def _rejected(detail: str) -> StoreRejected:
    return StoreRejected(detail, status_code=422)


def new_code(records: SalesRecords) -> str:
    """A readable code no other has, e.g. ``SAVE-7K2Q9P``."""
    while True:
        code = _PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(6))
        if records.get_discount(code) is None:
            return code


def create_discount(repo: StoreRepository, body: DiscountBody, *, now: datetime) -> Doc:
    records = SalesRecords(repo.conn)
    expires = body.expires_utc()
    if expires <= now:
        raise _rejected("expires_at must be in the future")
    customer_id = body.customer_id
    if customer_id is not None and repo.get_user(customer_id) is None:
        raise _rejected(f"customer {customer_id} not found")
    order_id = body.order_id
    if order_id is not None:
        order_id = order_id if order_id.startswith("#") else f"#{order_id}"  # as in URLs
        order = repo.get_order(order_id)
        if order is None:
            raise _rejected(f"order {order_id} not found")
        if order["status"] == "cancelled":
            raise _rejected(f"order {order_id} is cancelled")
        if customer_id is not None and customer_id != order["user_id"]:
            raise _rejected(f"order {order_id} is not customer {customer_id}'s")
        # A code offered about an order is for that order's customer.
        customer_id = order["user_id"]
    if body.code is not None:
        code = normalize_code(body.code)
        if records.get_discount(code) is not None:
            raise StoreRejected("a discount code with this code already exists")
    else:
        code = new_code(records)
    discount = Discount(
        code=code,
        kind=body.kind,
        value=0.0 if body.kind == "free_shipping" else body.value,
        expires_ts=expires.timestamp(),
        expires_at=expires.isoformat(),
        usage_limit=body.usage_limit,
        customer_id=customer_id,
        order_id=order_id,
        created_at=utc_now(),
    )
    records.insert_discount(discount)
    return discount_doc(records, discount, now=now)


def discount_doc(records: SalesRecords, discount: Discount, *, now: datetime) -> Doc:
    """The port's shape (code, kind, value, expires_at, usage_limit, customer_id) and more."""
    uses = records.active_uses(discount.code)
    return {
        "code": discount.code,
        "kind": discount.kind,
        "value": discount.value,
        "expires_at": discount.expires_at,
        "usage_limit": discount.usage_limit,
        "customer_id": discount.customer_id,
        "order_id": discount.order_id,
        "usage_count": len(uses),
        "used_by_orders": uses,
        "expired": discount.expires_ts <= now.timestamp(),
        "created_at": discount.created_at,
    }


def get_discount(repo: StoreRepository, code: str, *, now: datetime) -> Doc:
    records = SalesRecords(repo.conn)
    discount = records.get_discount(normalize_code(code))
    if discount is None:
        raise StoreNotFound("discount code not found")
    return discount_doc(records, discount, now=now)


def price_discount(
    repo: StoreRepository, code: str, *, user_id: str, subtotal_cents: int, now: datetime
) -> AppliedDiscount:
    """The code applied to ``subtotal_cents`` for ``user_id``, or a 422 saying why not."""
    records = SalesRecords(repo.conn)
    discount = records.get_discount(normalize_code(code))
    if discount is None:
        raise _rejected("discount code is not valid: unknown code")
    if discount.expires_ts <= now.timestamp():
        raise _rejected(f"discount code is not valid: it expired at {discount.expires_at}")
    if discount.customer_id is not None and discount.customer_id != user_id:
        raise _rejected("discount code is not valid: it belongs to another customer")
    if discount.order_id is not None:
        order = repo.get_order(discount.order_id)
        if order is None or order["status"] == "cancelled":
            raise _rejected(
                f"discount code is not valid: order {discount.order_id} it was offered "
                "about is cancelled"
            )
    if len(records.active_uses(discount.code)) >= discount.usage_limit:
        raise _rejected(
            f"discount code is not valid: used up ({discount.usage_limit} of "
            f"{discount.usage_limit} uses)"
        )
    return AppliedDiscount(discount.code, discount.kind, _amount_off(discount, subtotal_cents))


def _amount_off(discount: Discount, subtotal_cents: int) -> int:
    if discount.kind == "percentage":
        off = (Decimal(subtotal_cents) * Decimal(str(discount.value)) / 100).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        return min(int(off), subtotal_cents)
    if discount.kind == "fixed_amount":
        cents = int((Decimal(str(discount.value)) * 100).quantize(Decimal(1), ROUND_HALF_UP))
        return min(cents, subtotal_cents)
    # free_shipping: the store charges no shipping, so nothing comes off; the use is recorded.
    return 0


def use_discount(repo: StoreRepository, applied: AppliedDiscount, order_id: str) -> None:
    SalesRecords(repo.conn).add_use(applied.code, order_id, applied.amount_cents)


def release_discounts(repo: StoreRepository, order_id: str) -> int:
    """A cancelled order gives its codes' uses back."""
    return SalesRecords(repo.conn).release_uses(order_id)


def utc_datetime_now() -> datetime:
    return datetime.now(UTC)
