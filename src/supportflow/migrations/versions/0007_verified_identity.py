"""verified identity: tenant identity secrets, verified identities, one-time codes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("identity_secret", sa.Text(), nullable=True))
        batch.add_column(sa.Column("identity_secret_previous", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("identity_secret_previous_until", sa.DateTime(timezone=True), nullable=True)
        )
    # Rows written before this revision were linked on a typed email: none counts as verified.
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("verified_by", sa.String(16), nullable=True))
    op.create_table(
        "verification_codes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("request_key", sa.String(255), nullable=False, unique=True),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("email_sealed", sa.Text(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("salt", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_verification_email", "verification_codes", ["tenant_id", "email_hash", "created_at"]
    )
    op.create_index(
        "ix_verification_customer", "verification_codes", ["tenant_id", "customer_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_verification_customer", "verification_codes")
    op.drop_index("ix_verification_email", "verification_codes")
    op.drop_table("verification_codes")
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("verified_by")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("identity_secret_previous_until")
        batch.drop_column("identity_secret_previous")
        batch.drop_column("identity_secret")
