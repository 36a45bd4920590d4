"""Reads and writes of store records inside one caller-owned transaction (a Connection)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, delete, func, insert, select, update

from supportflow.demo_store import db
from supportflow.demo_store.identity import fold

Doc = dict[str, Any]


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Hold:
    order_id: str
    reason: str | None
    refunded_cents: int
    held_at: str


@dataclass(frozen=True)
class StoredResponse:
    operation: str
    request_hash: str
    status_code: int
    body: Doc


class StoreRepository:
    """Row access for one transaction. Documents returned are copies: mutate, then save."""

    def __init__(self, conn: Connection, *, emit_webhooks: bool = False) -> None:
        self.conn = conn
        # Whether writes through this repository put webhooks in the outbox (the app was
        # created with webhooks configured); see webhooks/outbox.py.
        self.emit_webhooks = emit_webhooks

    # -- reads ------------------------------------------------------------------------------

    def _doc(self, stmt: Any) -> Doc | None:
        value = self.conn.execute(stmt).scalar_one_or_none()
        return copy.deepcopy(cast(Doc, value)) if value is not None else None

    def get_user(self, user_id: str) -> Doc | None:
        return self._doc(select(db.users.c.doc).where(db.users.c.user_id == user_id))

    def get_order(self, order_id: str) -> Doc | None:
        return self._doc(select(db.orders.c.doc).where(db.orders.c.order_id == order_id))

    def get_product(self, product_id: str) -> Doc | None:
        return self._doc(select(db.products.c.doc).where(db.products.c.product_id == product_id))

    def _users_where(self, *conditions: Any) -> list[Doc]:
        stmt = select(db.users.c.doc).where(*conditions).order_by(db.users.c.user_id)
        return [cast(Doc, row) for row in self.conn.execute(stmt).scalars()]

    def find_users_by_email(self, email: str) -> list[Doc]:
        return self._users_where(db.users.c.email_key == fold(email))

    def find_users_by_name_zip(self, first_name: str, last_name: str, zip_code: str) -> list[Doc]:
        return self._users_where(
            db.users.c.first_name_key == fold(first_name),
            db.users.c.last_name_key == fold(last_name),
            db.users.c.zip == zip_code.strip(),
        )

    def find_users_by_phone(self, phone: str) -> list[Doc]:
        return self._users_where(db.users.c.phone == phone)

    def list_products(self) -> list[dict[str, str]]:
        stmt = select(db.products.c.name, db.products.c.product_id).order_by(db.products.c.name)
        return [{"name": name, "product_id": pid} for name, pid in self.conn.execute(stmt)]

    def all_products(self) -> list[Doc]:
        stmt = select(db.products.c.doc).order_by(db.products.c.product_id)
        return [cast(Doc, row) for row in self.conn.execute(stmt).scalars()]

    def all_orders(self) -> list[Doc]:
        stmt = select(db.orders.c.doc).order_by(db.orders.c.order_id)
        return [cast(Doc, row) for row in self.conn.execute(stmt).scalars()]

    def all_users(self) -> list[Doc]:
        return self._users_where()

    # -- record writes ----------------------------------------------------------------------

    def insert_user(self, doc: Doc) -> None:
        self.conn.execute(insert(db.users).values(doc=doc, **_user_keys(doc)))

    def insert_order(self, doc: Doc) -> None:
        self.conn.execute(
            insert(db.orders).values(
                order_id=doc["order_id"], user_id=doc["user_id"], status=doc["status"], doc=doc
            )
        )

    def insert_product(self, doc: Doc) -> None:
        self.conn.execute(
            insert(db.products).values(product_id=doc["product_id"], name=doc["name"], doc=doc)
        )

    def save_user(self, doc: Doc) -> None:
        self.conn.execute(
            update(db.users)
            .where(db.users.c.user_id == doc["user_id"])
            .values(doc=doc, **_user_keys(doc))
        )

    def save_order(self, doc: Doc) -> None:
        self.conn.execute(
            update(db.orders)
            .where(db.orders.c.order_id == doc["order_id"])
            .values(status=doc["status"], doc=doc)
        )

    # -- holds ------------------------------------------------------------------------------

    def get_hold(self, order_id: str) -> Hold | None:
        row = self.conn.execute(select(db.holds).where(db.holds.c.order_id == order_id)).first()
        if row is None:
            return None
        return Hold(row.order_id, row.reason, row.refunded_cents, row.held_at)

    def put_hold(self, order_id: str, reason: str | None) -> None:
        self.conn.execute(
            insert(db.holds).values(
                order_id=order_id, reason=reason, refunded_cents=0, held_at=utc_now()
            )
        )

    def add_hold_refund(self, order_id: str, cents: int) -> None:
        self.conn.execute(
            update(db.holds)
            .where(db.holds.c.order_id == order_id)
            .values(refunded_cents=db.holds.c.refunded_cents + cents)
        )

    def delete_hold(self, order_id: str) -> None:
        self.conn.execute(delete(db.holds).where(db.holds.c.order_id == order_id))

    def active_holds(self) -> dict[str, Hold]:
        rows = self.conn.execute(select(db.holds)).all()
        return {r.order_id: Hold(r.order_id, r.reason, r.refunded_cents, r.held_at) for r in rows}

    # -- gift card ledger -------------------------------------------------------------------

    def record_gift_card_movement(
        self,
        *,
        user_id: str,
        payment_method_id: str,
        order_id: str | None,
        operation: str,
        delta_cents: int,
        balance_cents: int,
    ) -> None:
        self.conn.execute(
            insert(db.gift_card_ledger).values(
                user_id=user_id,
                payment_method_id=payment_method_id,
                order_id=order_id,
                operation=operation,
                delta_cents=delta_cents,
                balance_cents=balance_cents,
                at=utc_now(),
            )
        )

    def gift_card_ledger_sums(self) -> dict[tuple[str, str], int]:
        ledger = db.gift_card_ledger
        stmt = select(
            ledger.c.user_id, ledger.c.payment_method_id, func.sum(ledger.c.delta_cents)
        ).group_by(ledger.c.user_id, ledger.c.payment_method_id)
        return {(uid, pm): int(total) for uid, pm, total in self.conn.execute(stmt)}

    # -- events -----------------------------------------------------------------------------

    def record_event(
        self, operation: str, entity_id: str, idempotency_key: str | None, request: Doc
    ) -> None:
        self.conn.execute(
            insert(db.events).values(
                at=utc_now(),
                operation=operation,
                entity_id=entity_id,
                idempotency_key=idempotency_key,
                request=request,
            )
        )

    def list_events(self, entity_id: str | None = None, limit: int = 100) -> list[Doc]:
        stmt = select(db.events).order_by(db.events.c.id.desc()).limit(limit)
        if entity_id is not None:
            stmt = stmt.where(db.events.c.entity_id == entity_id)
        return [dict(row._mapping) for row in self.conn.execute(stmt)]

    # -- idempotency ------------------------------------------------------------------------

    def get_stored_response(self, key: str) -> StoredResponse | None:
        row = self.conn.execute(select(db.idempotency).where(db.idempotency.c.key == key)).first()
        if row is None:
            return None
        return StoredResponse(row.operation, row.request_hash, row.status_code, row.response)

    def store_response(
        self, key: str, operation: str, request_hash: str, status_code: int, body: Doc
    ) -> None:
        self.conn.execute(
            insert(db.idempotency).values(
                key=key,
                operation=operation,
                request_hash=request_hash,
                status_code=status_code,
                response=body,
                created_at=utc_now(),
            )
        )

    # -- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        stmt = select(db.meta.c.value).where(db.meta.c.key == key)
        value = self.conn.execute(stmt).scalar_one_or_none()
        return str(value) if value is not None else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(insert(db.meta).values(key=key, value=value))


def _user_keys(doc: Doc) -> dict[str, str]:
    return {
        "user_id": doc["user_id"],
        "email_key": fold(doc["email"]),
        "first_name_key": fold(doc["name"]["first_name"]),
        "last_name_key": fold(doc["name"]["last_name"]),
        "zip": doc["address"]["zip"].strip(),
        "phone": doc["phone"],
    }
