"""inbox: conversations that need a person (handoff, approval, stuck, sla)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_items",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("held_by", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("approval_id", sa.String(length=40), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("approval", sa.Text(), nullable=True),
        sa.Column("sla_breaches", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "customer_id"),
    )
    op.create_index("ix_inbox_tenant_since", "inbox_items", ["tenant_id", "since"])
    op.create_index("ix_inbox_tenant_approval", "inbox_items", ["tenant_id", "approval_id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_tenant_approval", table_name="inbox_items")
    op.drop_index("ix_inbox_tenant_since", table_name="inbox_items")
    op.drop_table("inbox_items")
