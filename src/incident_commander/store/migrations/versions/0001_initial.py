"""The first tables: incidents, signals, events, decisions, executions, notifications,
deploys, artifacts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from incident_commander.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deploys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(128), nullable=False, index=True),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("commit", sa.String(64), nullable=True),
        sa.Column("deployed_by", sa.String(200), nullable=True),
        sa.Column("deployed_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("service", sa.String(128), nullable=False, index=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("detected_by", sa.String(200), nullable=False),
        sa.Column("symptoms", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False, index=True),
        sa.Column("resume_status", sa.String(32), nullable=True),
        sa.Column("halt_reason", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(32), nullable=True, index=True),
        sa.Column("severity_confirmed", sa.Boolean(), nullable=False),
        sa.Column("pending_approval", sa.String(16), nullable=True),
        sa.Column("suspect_deploy_id", sa.Integer(), sa.ForeignKey("deploys.id"), nullable=True),
        sa.Column("first_signal_at", UTCDateTime(), nullable=False),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("mitigated_at", UTCDateTime(), nullable=True),
        sa.Column("recovered_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("assessment", sa.JSON(), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("readiness", sa.JSON(), nullable=True),
        sa.Column("validation", sa.JSON(), nullable=True),
        sa.Column("resolution", sa.JSON(), nullable=True),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id", sa.String(40), sa.ForeignKey("incidents.id"), nullable=False, index=True
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("detected_by", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id", sa.String(40), sa.ForeignKey("incidents.id"), nullable=False, index=True
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("incident_id", "seq"),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id", sa.String(40), sa.ForeignKey("incidents.id"), nullable=False, index=True
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("answer", sa.String(8), nullable=True),
        sa.Column("approver", sa.String(200), nullable=True),
        sa.Column("approver_type", sa.String(16), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id", sa.String(40), sa.ForeignKey("incidents.id"), nullable=False, index=True
        ),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("option_name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("decision_id", sa.Integer(), sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("target_release", sa.String(128), nullable=True),
        sa.Column("release_before", sa.String(128), nullable=True),
        sa.Column("release_after", sa.String(128), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("commands", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id", sa.String(40), sa.ForeignKey("incidents.id"), nullable=False, index=True
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("audience", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_table(
        "artifacts",
        sa.Column("incident_id", sa.String(40), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("path", sa.String(300), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("written_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "artifacts",
        "notifications",
        "executions",
        "decisions",
        "events",
        "signals",
        "incidents",
        "deploys",
    ):
        op.drop_table(table)
