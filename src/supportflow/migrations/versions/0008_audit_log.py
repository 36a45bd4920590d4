"""audit log: one hash-chained, append-only trail of actions per tenant

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        # No foreign key: the trail outlives a tenant's rows, and agents' tenants need none.
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        # One chain per tenant: two appends racing for the same place cannot both land.
        sa.UniqueConstraint("tenant_id", "seq", name="uq_audit_tenant_seq"),
        # A retried activity (same key) appends once; NULL keys never collide.
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_audit_tenant_key"),
    )
    op.create_index("ix_audit_tenant_at", "audit_log", ["tenant_id", "at"])
    op.create_index("ix_audit_tenant_action", "audit_log", ["tenant_id", "action", "seq"])
    op.create_index("ix_audit_tenant_workflow", "audit_log", ["tenant_id", "workflow_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_tenant_workflow", "audit_log")
    op.drop_index("ix_audit_tenant_action", "audit_log")
    op.drop_index("ix_audit_tenant_at", "audit_log")
    op.drop_table("audit_log")
