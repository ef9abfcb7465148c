"""Tables. The database is the source of truth; the evidence folder is rendered from it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ALERT_FILLFACTOR",
    "ActionItem",
    "Alert",
    "ArtifactRecord",
    "Base",
    "Decision",
    "Delivery",
    "Deploy",
    "Event",
    "Execution",
    "Incident",
    "IntakeWrites",
    "Notification",
    "Signal",
    "UTCDateTime",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    service: Mapped[str] = mapped_column(String(128), index=True)
    source: Mapped[str] = mapped_column(String(32))
    detected_by: Mapped[str] = mapped_column(String(200))
    symptoms: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(32), index=True)
    resume_status: Mapped[str | None] = mapped_column(String(32))
    halt_reason: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(32), index=True)
    severity_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    pending_approval: Mapped[str | None] = mapped_column(String(16))
    suspect_deploy_id: Mapped[int | None] = mapped_column(ForeignKey("deploys.id"))
    first_signal_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    mitigated_at: Mapped[datetime | None]
    recovered_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    assessment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    readiness: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    validation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Signal(Base):
    """One alert or signal taken in (the intake log)."""

    __tablename__ = "signals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
    detected_by: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Event(Base):
    """A timeline line; ``hash`` covers the previous hash and this line (a hash chain)."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("incident_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Decision(Base):
    """An approval prompt and its answer (a person's or a named policy's)."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    prompt: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(String(8))
    approver: Mapped[str | None] = mapped_column(String(200))
    approver_type: Mapped[str | None] = mapped_column(String(16))
    rationale: Mapped[str | None] = mapped_column(Text)
    # The prompt's deadline, the roles whose yes it needs, and each answer given so far.
    expires_at: Mapped[datetime | None]
    requires: Mapped[list[Any] | None] = mapped_column(JSON)
    votes: Mapped[list[Any] | None] = mapped_column(JSON)


class Execution(Base):
    """One run of one mitigation option; the idempotency key stops accidental repeats.

    While it runs, its owner holds a lease: ``heartbeat_at`` and ``lease_expires_at`` are
    renewed by the owner, ``in_flight`` holds the service name (unique, so one execution per
    service at a time), and ``command_pid`` / ``command_mark`` name the running command.
    """

    __tablename__ = "executions"
    __table_args__ = (Index("ix_executions_in_flight", "in_flight", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    option_name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    status: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(200))
    target_release: Mapped[str | None] = mapped_column(String(128))
    release_before: Mapped[str | None] = mapped_column(String(128))
    release_after: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    commands: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
    heartbeat_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    in_flight: Mapped[str | None] = mapped_column(String(128))
    command_pid: Mapped[int | None] = mapped_column(Integer)
    command_mark: Mapped[str | None] = mapped_column(String(80))


class Notification(Base):
    """A message to stakeholders, and whether (and when) it got through."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(128))
    audience: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
    # The outbox: "pending" until delivered after the step's commit, then "sent" or "failed".
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None]
    # What the message is about (a notify.messages.MessageKind, or "event" for a webhook), and
    # whether it was written for the public (a status update anyone may read).
    kind: Mapped[str | None] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class Deploy(Base):
    """A deployment of a service; the most recent one before the first signal is the suspect."""

    __tablename__ = "deploys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[str] = mapped_column(String(128))
    commit: Mapped[str | None] = mapped_column(String(64))
    deployed_by: Mapped[str | None] = mapped_column(String(200))
    deployed_at: Mapped[datetime]


class ArtifactRecord(Base):
    """The hash of an evidence file as the tool last wrote it."""

    __tablename__ = "artifacts"

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(300), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    written_at: Mapped[datetime]


ALERT_FILLFACTOR = 50
"""How full PostgreSQL fills a page of alerts: the rest is room for repeats' new row versions."""


class Alert(Base):
    """One alert as its sender identifies it (source + fingerprint); repeats update this row."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("source", "fingerprint"),
        {"postgresql_with": {"fillfactor": ALERT_FILLFACTOR}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    alertname: Mapped[str] = mapped_column(String(200))
    group_key: Mapped[str] = mapped_column(String(128), index=True)
    summary: Mapped[str] = mapped_column(Text)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    flips: Mapped[list[Any]] = mapped_column(default=list)
    outcome: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id"), index=True)


class IntakeWrites(Base):
    """The one row counting alert-intake writes (see ``alerts.rows.KnownAlerts``)."""

    __tablename__ = "intake_writes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)


class Delivery(Base):
    """A webhook delivery already processed; a retry with the same body gets the same answer."""

    __tablename__ = "deliveries"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(index=True)
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ActionItem(Base):
    """A follow-up of a post-incident review: owned, due, of a kind, open until done.

    ``id`` is the number people use (``ic action done 7``); ``reminded_on`` is the day the
    last overdue reminder went out, so each item is reminded at most once a day.
    """

    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    due: Mapped[date] = mapped_column(Date)
    priority: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(8), index=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    reminded_on: Mapped[date | None] = mapped_column(Date)
