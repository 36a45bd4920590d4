"""sales: store webhook secrets and events, marketing consent, sales touches and conversions

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "store_webhook_secrets",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    op.create_table(
        "store_webhook_events",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "event_id"),
    )
    op.create_index("ix_store_webhook_events_received_at", "store_webhook_events", ["received_at"])
    op.create_table(
        "marketing_consent",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("store_user_id", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "store_user_id", "channel"),
    )
    op.create_table(
        "sales_touches",
        sa.Column("touch_id", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("store_user_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=100), nullable=False),
        sa.Column("experiment_id", sa.String(length=40), nullable=True),
        sa.Column("arm", sa.String(length=40), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("discount_code", sa.String(length=64), nullable=True),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("touch_id"),
    )
    op.create_index(
        "ix_sales_touches_customer", "sales_touches", ["tenant_id", "store_user_id", "at"]
    )
    op.create_table(
        "sales_conversions",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("touch_id", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.ForeignKeyConstraint(["touch_id"], ["sales_touches.touch_id"]),
        sa.PrimaryKeyConstraint("tenant_id", "order_id"),
    )
    op.create_index("ix_sales_conversions_touch_id", "sales_conversions", ["touch_id"])


def downgrade() -> None:
    op.drop_index("ix_sales_conversions_touch_id", table_name="sales_conversions")
    op.drop_table("sales_conversions")
    op.drop_index("ix_sales_touches_customer", table_name="sales_touches")
    op.drop_table("sales_touches")
    op.drop_table("marketing_consent")
    op.drop_index("ix_store_webhook_events_received_at", table_name="store_webhook_events")
    op.drop_table("store_webhook_events")
    op.drop_table("store_webhook_secrets")
