"""operators: accounts per tenant with roles and approval limits, personal API tokens, sessions

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("approval_limit", sa.Numeric(12, 2), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "email", name="uq_operator_email"),
    )
    op.create_index("ix_operators_tenant_id", "operators", ["tenant_id"])
    op.create_table(
        "operator_tokens",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("operator_id", sa.String(40), sa.ForeignKey("operators.id"), nullable=False),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_operator_tokens_token_hash", "operator_tokens", ["token_hash"], unique=True)
    op.create_index("ix_operator_tokens_operator_id", "operator_tokens", ["operator_id"])
    op.create_table(
        "operator_sessions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("operator_id", sa.String(40), sa.ForeignKey("operators.id"), nullable=False),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("csrf_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_operator_sessions_session_hash", "operator_sessions", ["session_hash"], unique=True
    )
    op.create_index("ix_operator_sessions_operator_id", "operator_sessions", ["operator_id"])


def downgrade() -> None:
    op.drop_index("ix_operator_sessions_operator_id", "operator_sessions")
    op.drop_index("ix_operator_sessions_session_hash", "operator_sessions")
    op.drop_table("operator_sessions")
    op.drop_index("ix_operator_tokens_operator_id", "operator_tokens")
    op.drop_index("ix_operator_tokens_token_hash", "operator_tokens")
    op.drop_table("operator_tokens")
    op.drop_index("ix_operators_tenant_id", "operators")
    op.drop_table("operators")
