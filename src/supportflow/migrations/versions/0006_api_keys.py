"""tenant API keys: several per tenant, each revocable and with an optional expiry

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 04:00:00.000000
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    keys = op.create_table(
        "tenant_api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tenant_api_keys_key_hash", "tenant_api_keys", ["key_hash"], unique=True)
    op.create_index("ix_tenant_api_keys_tenant_id", "tenant_api_keys", ["tenant_id"])
    # Every tenant's existing key keeps working: its hash moves into the table. Only the hash
    # was ever stored, so its last four characters are unknown (NULL).
    tenants = sa.table(
        "tenants",
        sa.column("id", sa.String),
        sa.column("api_key_hash", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = (
        op.get_bind()
        .execute(sa.select(tenants.c.id, tenants.c.api_key_hash, tenants.c.created_at))
        .all()
    )
    if not rows:
        return
    op.bulk_insert(
        keys,
        [
            {
                "id": "k_" + uuid.uuid4().hex[:16],
                "tenant_id": tenant_id,
                "key_hash": key_hash,
                "last4": None,
                "created_at": created_at or datetime.now(UTC),
                "expires_at": None,
                "revoked_at": None,
            }
            for tenant_id, key_hash, created_at in rows
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_tenant_api_keys_tenant_id", "tenant_api_keys")
    op.drop_index("ix_tenant_api_keys_key_hash", "tenant_api_keys")
    op.drop_table("tenant_api_keys")
