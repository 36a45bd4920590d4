"""Rows of the sales tables (checkouts, discount codes and their uses) in one caller-owned
transaction, as ``repository.StoreRepository`` does for users and orders."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, func, insert, or_, select, update

from supportflow.demo_store import db
from supportflow.demo_store.repository import Doc, utc_now


@dataclass(frozen=True)
class Discount:
    code: str
    kind: str
    value: float
    expires_ts: float
    expires_at: str
    usage_limit: int
    customer_id: str | None
    order_id: str | None
    created_at: str


@dataclass(frozen=True)
class Usage:
    code: str
    order_id: str
    amount_cents: int
    released: bool


class SalesRecords:
    """Row access for one transaction. Documents returned are copies: mutate, then save."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- checkouts --------------------------------------------------------------------------

    def get_checkout(self, checkout_id: str) -> Doc | None:
        """By its id or its token: Shopify names a checkout by its token in webhooks (and
        has no numeric id in recent API versions), so an agent may ask with either."""
        stmt = select(db.checkouts.c.doc).where(
            or_(db.checkouts.c.checkout_id == checkout_id, db.checkouts.c.token == checkout_id)
        )
        value = self.conn.execute(stmt).scalar_one_or_none()
        return copy.deepcopy(cast(Doc, value)) if value is not None else None

    def checkout_of_order(self, order_id: str) -> Doc | None:
        stmt = select(db.checkouts.c.doc).where(db.checkouts.c.completed_order_id == order_id)
        value = self.conn.execute(stmt).scalar_one_or_none()
        return copy.deepcopy(cast(Doc, value)) if value is not None else None

    def checkout_exists(self, checkout_id: str) -> bool:
        stmt = select(db.checkouts.c.checkout_id).where(db.checkouts.c.checkout_id == checkout_id)
        return self.conn.execute(stmt).first() is not None

    def insert_checkout(self, doc: Doc, *, created_ts: float, announced: bool) -> None:
        self.conn.execute(
            insert(db.checkouts).values(
                checkout_id=doc["id"],
                token=doc["token"],
                user_id=doc["customer_id"],
                created_ts=created_ts,
                completed_order_id=None,
                announced=announced,
                abandoned_at=None,
                doc=doc,
            )
        )

    def save_checkout(self, doc: Doc) -> None:
        self.conn.execute(
            update(db.checkouts)
            .where(db.checkouts.c.checkout_id == doc["id"])
            .values(
                doc=doc,
                completed_order_id=doc["completed_order_id"],
                abandoned_at=doc.get("abandoned_at"),
            )
        )

    def _open_announced(self) -> Any:
        c = db.checkouts.c
        return (c.announced.is_(True), c.completed_order_id.is_(None), c.abandoned_at.is_(None))

    def abandoned_candidates(self, created_before_ts: float, limit: int = 100) -> list[str]:
        """Announced checkouts, neither completed nor reported abandoned, created before."""
        c = db.checkouts.c
        stmt = (
            select(c.checkout_id)
            .where(*self._open_announced(), c.created_ts <= created_before_ts)
            .order_by(c.created_ts)
            .limit(limit)
        )
        return list(self.conn.execute(stmt).scalars())

    def oldest_open_checkout_ts(self) -> float | None:
        stmt = select(func.min(db.checkouts.c.created_ts)).where(*self._open_announced())
        value = self.conn.execute(stmt).scalar_one_or_none()
        return float(value) if value is not None else None

    def all_checkouts(self) -> list[Doc]:
        stmt = select(db.checkouts.c.doc).order_by(db.checkouts.c.checkout_id)
        return [cast(Doc, row) for row in self.conn.execute(stmt).scalars()]

    # -- discount codes ---------------------------------------------------------------------

    def get_discount(self, code: str) -> Discount | None:
        row = self.conn.execute(
            select(db.discount_codes).where(db.discount_codes.c.code == code)
        ).first()
        if row is None:
            return None
        return Discount(
            code=row.code,
            kind=row.kind,
            value=row.value,
            expires_ts=row.expires_ts,
            expires_at=row.expires_at,
            usage_limit=row.usage_limit,
            customer_id=row.customer_id,
            order_id=row.order_id,
            created_at=row.created_at,
        )

    def insert_discount(self, discount: Discount) -> None:
        self.conn.execute(
            insert(db.discount_codes).values(
                code=discount.code,
                kind=discount.kind,
                value=discount.value,
                expires_ts=discount.expires_ts,
                expires_at=discount.expires_at,
                usage_limit=discount.usage_limit,
                customer_id=discount.customer_id,
                order_id=discount.order_id,
                created_at=discount.created_at,
            )
        )

    def all_discounts(self) -> list[Discount]:
        codes = self.conn.execute(select(db.discount_codes.c.code)).scalars()
        found = [self.get_discount(code) for code in codes]
        return [d for d in found if d is not None]

    # -- uses of discount codes -------------------------------------------------------------

    def active_uses(self, code: str) -> list[str]:
        """Order ids using the code now (uses by cancelled orders were released)."""
        u = db.discount_usages.c
        stmt = select(u.order_id).where(u.code == code, u.released_at.is_(None)).order_by(u.id)
        return list(self.conn.execute(stmt).scalars())

    def add_use(self, code: str, order_id: str, amount_cents: int) -> None:
        self.conn.execute(
            insert(db.discount_usages).values(
                code=code, order_id=order_id, amount_cents=amount_cents, used_at=utc_now()
            )
        )

    def release_uses(self, order_id: str) -> int:
        """Give back the uses of codes by this order; returns how many were released."""
        u = db.discount_usages.c
        result = self.conn.execute(
            update(db.discount_usages)
            .where(u.order_id == order_id, u.released_at.is_(None))
            .values(released_at=utc_now())
        )
        return int(result.rowcount)

    def all_uses(self) -> list[Usage]:
        u = db.discount_usages.c
        rows = self.conn.execute(
            select(u.code, u.order_id, u.amount_cents, u.released_at).order_by(u.id)
        )
        return [Usage(r.code, r.order_id, r.amount_cents, r.released_at is not None) for r in rows]
