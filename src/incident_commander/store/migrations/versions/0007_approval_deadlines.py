"""Approvals with a deadline and required roles: each answer given so far is kept.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from incident_commander.store.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as table:
        table.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        table.add_column(sa.Column("requires", sa.JSON(), nullable=True))
        table.add_column(sa.Column("votes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as table:
        table.drop_column("votes")
        table.drop_column("requires")
        table.drop_column("expires_at")
