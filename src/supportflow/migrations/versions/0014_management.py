"""management (issue 14)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=True),
        sa.Column("subject", sa.String(length=100), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "event_key", name="uq_agent_event_key"),
    )
    op.create_index("ix_agent_events_tenant_id", "agent_events", ["tenant_id", "id"])
    op.create_index("ix_agent_events_tenant_kind_at", "agent_events", ["tenant_id", "kind", "at"])
    op.create_table(
        "metric_buckets",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "hour", "name"),
    )
    op.create_table(
        "policy_guards",
        sa.Column("guard_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("effect", sa.String(length=24), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("guard_id"),
    )
    op.create_index("ix_policy_guards_tenant", "policy_guards", ["tenant_id", "lifted_at"])
    op.create_table(
        "management_settings",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
    )


def downgrade() -> None:
    op.drop_table("management_settings")
    op.drop_index("ix_policy_guards_tenant", table_name="policy_guards")
    op.drop_table("policy_guards")
    op.drop_table("metric_buckets")
    op.drop_index("ix_agent_events_tenant_kind_at", table_name="agent_events")
    op.drop_index("ix_agent_events_tenant_id", table_name="agent_events")
    op.drop_table("agent_events")
