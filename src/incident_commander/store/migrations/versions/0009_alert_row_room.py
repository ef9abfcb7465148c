"""Room on each page of the alerts table for the row's next version (PostgreSQL).

Every repeat of an alert rewrites its row. With pages filled to the brim the new version goes to
another page, and every index of the table gains an entry for it; with room left on the page the
new version stays beside the old one (a heap-only update), no index is touched, and the old
version is reclaimed the next time the page is read.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE alerts SET (fillfactor = 50)")  # models.ALERT_FILLFACTOR


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE alerts RESET (fillfactor)")
