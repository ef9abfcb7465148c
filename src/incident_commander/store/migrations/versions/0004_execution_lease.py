"""Execution leases: an owner renews a heartbeat while its command runs; one in flight per service.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from incident_commander.store.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("heartbeat_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("in_flight", sa.String(128), nullable=True))
        batch.add_column(sa.Column("command_pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("command_mark", sa.String(80), nullable=True))
    op.create_index("ix_executions_in_flight", "executions", ["in_flight"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_executions_in_flight", table_name="executions")
    with op.batch_alter_table("executions") as batch:
        for column in ("command_mark", "command_pid", "in_flight", "lease_expires_at"):
            batch.drop_column(column)
        batch.drop_column("heartbeat_at")
