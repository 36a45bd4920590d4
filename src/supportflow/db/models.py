"""Tables of the app database. Every row is scoped to a tenant."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the secret API key: the key itself is shown once and never stored.
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    # The chat key is public (it ships inside the merchant's web page), so it is stored as is.
    chat_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Identity(Base):
    """One way a customer reaches the store: a chat visitor id, an email, a phone number."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "value", name="uq_identity"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReplyTemplate(Base):
    """A tenant's own wording for one reply (overrides the default template of that name)."""

    __tablename__ = "reply_templates"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(4000))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )


class TenantPolicyRow(Base):
    """A tenant's policy document (validated TenantPolicy JSON); absent means the defaults."""

    __tablename__ = "tenant_policies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )


class KnowledgeArticle(Base):
    """One article of a tenant's knowledge base (a policy, a shipping note, an FAQ answer).

    Agents quote these verbatim, so a merchant controls every word a customer is told.
    """

    __tablename__ = "knowledge_articles"
    # Retrieval checks (id, updated_at) of a tenant's articles before each search to see
    # whether its cached index is stale; this index answers that without reading bodies.
    __table_args__ = (Index("ix_knowledge_tenant_version", "tenant_id", "id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )
