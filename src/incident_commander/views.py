"""The plain-data shapes the CLI (`--json`) and the HTTP API both return: one source of truth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incident_commander.clock import isoformat
from incident_commander.evidence.record import IncidentRecord
from incident_commander.store.models import Alert, Incident

if TYPE_CHECKING:
    from incident_commander.protocol.engine import Engine

__all__ = ["alert_dict", "incident_row", "incident_view", "record_dict"]


def incident_row(inc: Incident) -> dict[str, Any]:
    """One line of a listing."""
    return {
        "id": inc.id,
        "status": inc.status,
        "severity": inc.severity,
        "service": inc.service,
        "title": inc.title,
        "detected_at": isoformat(inc.detected_at),
    }


def alert_dict(alert: Alert) -> dict[str, Any]:
    """An alert as recorded."""
    return {
        "source": alert.source,
        "fingerprint": alert.fingerprint,
        "alertname": alert.alertname,
        "status": alert.status,
        "outcome": alert.outcome,
        "reason": alert.reason,
        "occurrences": alert.occurrences,
        "labels": alert.labels,
        "starts_at": isoformat(alert.starts_at),
        "resolved_at": isoformat(alert.resolved_at),
    }


def record_dict(
    record: IncidentRecord, pending_prompt: str | None, alerts: list[Alert] | None = None
) -> dict[str, Any]:
    """One incident with what it waits for, its alerts and its timeline."""
    inc = record.incident
    return {
        **incident_row(inc),
        "severity_confirmed": inc.severity_confirmed,
        "pending_approval": inc.pending_approval,
        "pending_prompt": pending_prompt,
        "halt_reason": inc.halt_reason,
        "suspect_deploy": record.suspect_deploy.version if record.suspect_deploy else None,
        "first_signal_at": isoformat(inc.first_signal_at),
        "alerts": [alert_dict(a) for a in alerts or []],
        "extended_monitoring": [
            {k: point.get(k) for k in ("n", "due", "phase", "status", "ran_at", "summary")}
            for point in (inc.resolution or {}).get("checkpoints") or []
        ],
        "timeline": [
            {"seq": e.seq, "at": isoformat(e.at), "kind": e.kind, "message": e.message}
            for e in record.events
        ],
    }


def incident_view(engine: Engine, incident_id: str) -> dict[str, Any]:
    """One incident as `ic show --json` and `GET /api/v1/incidents/{id}` give it.

    The alerts are read before the record: the intake commits an alert's change together with
    its timeline line, so a view that shows the change also shows the line.
    """
    alerts = engine.alerts_of(incident_id)
    return record_dict(engine.record(incident_id), engine.pending_prompt(incident_id), alerts)
