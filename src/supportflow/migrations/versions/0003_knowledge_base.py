"""knowledge base

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:25:45.080689
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "knowledge_articles",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("knowledge_articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_knowledge_tenant_version", ["tenant_id", "id", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("knowledge_articles", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_tenant_version")

    op.drop_table("knowledge_articles")
