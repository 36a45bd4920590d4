"""routing and watchdog (issue 14): inbox lines assigned to operators, escalated by the watchdog

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite alters a table by copying it (the lines survive).
    with op.batch_alter_table("inbox_items") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("routed_to", sa.Text(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("routing_poll", sa.String(length=64), nullable=True))
    op.create_table(
        "operator_routing",
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"]),
        sa.PrimaryKeyConstraint("operator_id"),
    )
    op.create_index("ix_operator_routing_tenant_id", "operator_routing", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_operator_routing_tenant_id", table_name="operator_routing")
    op.drop_table("operator_routing")
    with op.batch_alter_table("inbox_items") as batch:
        batch.drop_column("routing_poll")
        batch.drop_column("escalated_at")
        batch.drop_column("routed_to")
        batch.drop_column("assigned_at")
        batch.drop_column("assigned_to")
