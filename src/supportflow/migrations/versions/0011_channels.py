"""channels: tenants' email/SMS set-up, channel messages, webhook nonces, SMS consent

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_channels",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("support_email", sa.String(length=320), nullable=True),
        sa.Column("mail_from", sa.String(length=320), nullable=True),
        sa.Column("mailgun_signing_key", sa.Text(), nullable=True),
        sa.Column("sendgrid_public_key", sa.Text(), nullable=True),
        sa.Column("twilio_account_sid", sa.String(length=64), nullable=True),
        sa.Column("twilio_auth_token", sa.Text(), nullable=True),
        sa.Column("sms_number", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id"),
        sa.UniqueConstraint("support_email"),
        sa.UniqueConstraint("sms_number"),
    )
    op.create_table(
        "channel_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("external_id", sa.String(length=250), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "tenant_id", "channel", "direction", "external_id", name="uq_channel_message"
        ),
    )
    op.create_index("ix_channel_messages_provider_id", "channel_messages", ["provider_id"])
    op.create_index(
        "ix_channel_messages_customer", "channel_messages", ["tenant_id", "customer_id"]
    )
    op.create_table(
        "webhook_nonces",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.String(length=200), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "provider", "nonce"),
    )
    op.create_index("ix_webhook_nonces_seen_at", "webhook_nonces", ["seen_at"])
    op.create_table(
        "sms_consent",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "phone"),
    )


def downgrade() -> None:
    op.drop_table("sms_consent")
    op.drop_index("ix_webhook_nonces_seen_at", table_name="webhook_nonces")
    op.drop_table("webhook_nonces")
    op.drop_index("ix_channel_messages_customer", table_name="channel_messages")
    op.drop_index("ix_channel_messages_provider_id", table_name="channel_messages")
    op.drop_table("channel_messages")
    op.drop_table("tenant_channels")
