"""Tenants' store connections in the app database: validated when saved and when loaded.

The row holds the validated ``StoreConnection`` JSON (backend, shop, API version, Stripe
account and the *names* of the variables with the secrets), never a secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from supportflow.db.models import Base, Tenant, _now
from supportflow.store.connection import (
    DEFAULT_CONNECTION,
    NoStoreConnection,
    StoreConnection,
    StoreConnectionError,
    parse_connection,
)


class TenantStoreConnectionRow(Base):
    """A tenant's store connection (validated ``StoreConnection`` JSON); absent: no store
    (``StoreConnectionStore.effective``). Created by migration 0005."""

    __tablename__ = "tenant_store_connections"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )


class UnknownTenant(LookupError):
    pass


class StoreConnectionStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def get(self, tenant_id: str) -> StoreConnection | None:
        """The tenant's connection; None when it has none. A stored row that no longer
        validates (or names a variable outside the tenant's namespace) raises
        StoreConnectionError naming the tenant and the problem."""
        with self._sessions() as s:
            row = s.get(TenantStoreConnectionRow, tenant_id)
            document = row.document if row else None
        if document is None:
            return None
        try:
            return parse_connection(json.loads(document), tenant_id)
        except (StoreConnectionError, ValueError) as err:
            raise StoreConnectionError(f"tenant {tenant_id}: stored {err}") from None

    def effective(self, tenant_id: str, demo_tenants: Collection[str]) -> StoreConnection:
        """The connection the tenant's agents use: its own, or the demo store when the
        operator allowed it one without a connection (``demo_tenants``: ids, or ``*``).
        Raises NoStoreConnection otherwise."""
        connection = self.get(tenant_id)
        if connection is not None:
            return connection
        if tenant_id in demo_tenants or "*" in demo_tenants:
            return DEFAULT_CONNECTION
        raise NoStoreConnection(
            f"tenant {tenant_id} has no store connection, so its agents cannot read or change "
            "orders; the merchant sets one with PUT /v1/store-connection, the operator with "
            "`supportflow tenants store set`"
        )

    def put(
        self,
        tenant_id: str,
        doc: Mapping[str, Any],
        *,
        check: Callable[[StoreConnection], None] | None = None,
    ) -> StoreConnection:
        """Validate (names in the tenant's namespace, and ``check``: a caller's own rule) and
        store; nothing changes on error."""
        connection = parse_connection(doc, tenant_id)
        if check is not None:
            check(connection)
        with self._sessions.begin() as s:
            if s.get(Tenant, tenant_id) is None:
                raise UnknownTenant(f"no tenant {tenant_id}")
            document = connection.model_dump_json()
            row = s.get(TenantStoreConnectionRow, tenant_id)
            if row is None:
                s.add(TenantStoreConnectionRow(tenant_id=tenant_id, document=document))
            else:
                row.document = document
        return connection

    def ensure_demo(self, tenant_id: str) -> bool:
        """Give the tenant the demo store at the configured URL, unless it has a connection
        already (the operator's own choice stands). True when one was added. For the demo
        tenant ``supportflow up`` creates."""
        with self._sessions.begin() as s:
            if s.get(TenantStoreConnectionRow, tenant_id) is not None:
                return False
            if s.get(Tenant, tenant_id) is None:
                raise UnknownTenant(f"no tenant {tenant_id}")
            document = DEFAULT_CONNECTION.model_dump_json()
            s.add(TenantStoreConnectionRow(tenant_id=tenant_id, document=document))
        return True
