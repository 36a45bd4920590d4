"""custom actions (issue 16): a knowledge article may be answered by a merchant's custom action

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite alters a table by copying it (the articles survive).
    with op.batch_alter_table("knowledge_articles") as batch:
        batch.add_column(sa.Column("action", sa.String(length=63), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("knowledge_articles") as batch:
        batch.drop_column("action")
