"""Notifications name their message kind and say whether they were written for the public.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as table:
        table.add_column(sa.Column("kind", sa.String(64), nullable=True))
        table.add_column(
            sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications") as table:
        table.drop_column("public")
        table.drop_column("kind")
