"""Notifications as an outbox: written by a step as pending, delivered after its commit.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from incident_commander.store.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as table:
        table.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="sent"))
        table.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        table.add_column(sa.Column("delivered_at", UTCDateTime(), nullable=True))
        table.create_index("ix_notifications_status", ["status"])


def downgrade() -> None:
    with op.batch_alter_table("notifications") as table:
        table.drop_index("ix_notifications_status")
        table.drop_column("delivered_at")
        table.drop_column("attempts")
        table.drop_column("status")
