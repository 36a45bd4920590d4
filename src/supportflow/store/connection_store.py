"""Tenants' store connections in the app database: validated when saved and when loaded.

The row holds the validated ``StoreConnection`` JSON (backend, shop, API version, Stripe
account and the *names* of the variables with the secrets), never a secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from supportflow.db.models import Base, Tenant, _now
from supportflow.store.connection import (
    StoreConnection,
    StoreConnectionError,
    parse_connection,
)


class TenantStoreConnectionRow(Base):
    """A tenant's store connection (validated ``StoreConnection`` JSON); absent: the demo
    store. Created by migration 0005."""

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

    def get(self, tenant_id: str) -> StoreConnection:
        """The tenant's connection (the default when it has none). A stored row that no longer
        validates raises StoreConnectionError naming the tenant and the problem."""
        with self._sessions() as s:
            row = s.get(TenantStoreConnectionRow, tenant_id)
            document = row.document if row else None
        if document is None:
            return parse_connection(None)
        try:
            return parse_connection(json.loads(document))
        except (StoreConnectionError, ValueError) as err:
            raise StoreConnectionError(f"tenant {tenant_id}: stored {err}") from None

    def put(
        self,
        tenant_id: str,
        doc: Mapping[str, Any],
        *,
        check: Callable[[StoreConnection], None] | None = None,
    ) -> StoreConnection:
        """Validate (and ``check``: a caller's own rule) and store; nothing changes on error.
        Two tenants never share a secret's variable: a merchant cannot point its connection
        at another tenant's token."""
        connection = parse_connection(doc)
        if check is not None:
            check(connection)
        with self._sessions.begin() as s:
            if s.get(Tenant, tenant_id) is None:
                raise UnknownTenant(f"no tenant {tenant_id}")
            names = set(connection.env_names())
            if names:
                for other_doc in s.scalars(
                    select(TenantStoreConnectionRow.document).where(
                        TenantStoreConnectionRow.tenant_id != tenant_id
                    )
                ):
                    try:
                        taken = set(parse_connection(json.loads(other_doc)).env_names())
                    except (StoreConnectionError, ValueError):
                        continue
                    shared = sorted(names & taken)
                    if shared:
                        raise StoreConnectionError(
                            f"invalid store connection: {', '.join(shared)} is already used by "
                            "another tenant; give each tenant its own variable"
                        )
            document = connection.model_dump_json()
            row = s.get(TenantStoreConnectionRow, tenant_id)
            if row is None:
                s.add(TenantStoreConnectionRow(tenant_id=tenant_id, document=document))
            else:
                row.document = document
        return connection
