"""Action items of post-incident reviews get a table of their own, with a done state.

The action items reviews recorded before (inside the incident's ``resolution`` JSON, which is
left as it was, sealed) are copied into the table as open prevention items.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from incident_commander.store.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(40), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reminded_on", sa.Date(), nullable=True),
    )
    op.create_index("ix_action_items_incident_id", "action_items", ["incident_id"])
    op.create_index("ix_action_items_owner", "action_items", ["owner"])
    op.create_index("ix_action_items_status", "action_items", ["status"])
    _copy_recorded_actions()


def _copy_recorded_actions() -> None:
    incidents = sa.table(
        "incidents",
        sa.column("id", sa.String()),
        sa.column("resolution", sa.JSON()),
        sa.column("resolved_at", UTCDateTime()),
    )
    rows: list[dict[str, Any]] = []
    found = op.get_bind().execute(
        sa.select(incidents.c.id, incidents.c.resolution, incidents.c.resolved_at).order_by(
            incidents.c.id
        )
    )
    for incident_id, resolution, resolved_at in found:
        review = (resolution or {}).get("review") if isinstance(resolution, dict) else None
        for action in (review or {}).get("actions") or []:
            try:
                due = date.fromisoformat(str(action["due"]))
                title, owner = str(action["text"]).strip(), str(action["owner"]).strip()
            except (KeyError, TypeError, ValueError):
                continue
            if title and owner:
                rows.append(
                    {
                        "incident_id": incident_id,
                        "title": title,
                        "owner": owner,
                        "due": due,
                        "priority": "medium",
                        "kind": "prevention",
                        "status": "open",
                        "created_at": resolved_at or datetime.now(UTC),
                        "created_by": "post-incident review",
                    }
                )
    if rows:
        op.bulk_insert(
            sa.table(
                "action_items",
                sa.column("incident_id", sa.String()),
                sa.column("title", sa.Text()),
                sa.column("owner", sa.String()),
                sa.column("due", sa.Date()),
                sa.column("priority", sa.String()),
                sa.column("kind", sa.String()),
                sa.column("status", sa.String()),
                sa.column("created_at", UTCDateTime()),
                sa.column("created_by", sa.String()),
            ),
            rows,
        )


def downgrade() -> None:
    op.drop_index("ix_action_items_status", "action_items")
    op.drop_index("ix_action_items_owner", "action_items")
    op.drop_index("ix_action_items_incident_id", "action_items")
    op.drop_table("action_items")
