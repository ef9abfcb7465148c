"""A counter of alert-intake writes, so a process can tell whether another one wrote alerts.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "intake_writes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "count": 0}])


def downgrade() -> None:
    op.drop_table("intake_writes")
