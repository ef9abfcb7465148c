"""The normalised alert every format becomes, and its fingerprint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from incident_commander.alerts.formats import (
    AlertmanagerPayload,
    EventPayload,
    GenericPayload,
)
from incident_commander.clock import utcnow

__all__ = ["AlertSignal", "fingerprint_of", "from_alertmanager", "from_event", "from_generic"]


_CANONICAL = json.JSONEncoder(separators=(",", ":"))


def fingerprint_of(labels: dict[str, str]) -> str:
    """A stable hash of an alert's labels (order does not matter)."""
    canonical = _CANONICAL.encode(sorted(labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass
class AlertSignal:
    """One alert, whatever sent it."""

    source: str
    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    summary: str
    starts_at: datetime
    ends_at: datetime | None = None

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname") or self.summary[:200]


def from_alertmanager(payload: AlertmanagerPayload, source: str) -> list[AlertSignal]:
    """Alertmanager or Grafana: one signal per alert in the group."""
    signals = []
    for alert in payload.alerts:
        labels = {**payload.commonLabels, **alert.labels}
        annotations = {**payload.commonAnnotations, **alert.annotations}
        summary = (
            annotations.get("summary")
            or annotations.get("description")
            or labels.get("alertname")
            or "alert"
        )
        signals.append(
            AlertSignal(
                source=source,
                fingerprint=alert.fingerprint or fingerprint_of(labels),
                status=alert.status,
                labels=labels,
                annotations=annotations,
                summary=summary,
                starts_at=alert.startsAt,
                ends_at=alert.endsAt if alert.status == "resolved" else None,
            )
        )
    return signals


def from_event(event: EventPayload) -> AlertSignal | None:
    """An Events v2 message; ``acknowledge`` carries no signal and returns ``None``."""
    if event.event_action == "acknowledge":
        return None
    body = event.payload
    labels: dict[str, str] = {}
    if body is not None:
        labels = {
            "alertname": body.summary[:200],
            "service": body.component or body.source,
            "severity": body.severity,
            **({"group": body.group} if body.group else {}),
        }
    key = event.dedup_key or fingerprint_of(labels)
    if not labels and event.event_action == "trigger":
        return None
    return AlertSignal(
        source="events",
        fingerprint=key[:128],
        status="firing" if event.event_action == "trigger" else "resolved",
        labels=labels,
        annotations={},
        summary=body.summary if body else key,
        starts_at=(body.timestamp if body and body.timestamp else utcnow()),
    )


def from_generic(payload: GenericPayload, source: str = "generic") -> list[AlertSignal]:
    """The generic format: summary and service, with optional labels and details."""
    signals = []
    for alert in payload.alerts:
        labels = {"alertname": alert.summary[:200], **alert.labels, "service": alert.service}
        if alert.severity:
            labels["severity"] = alert.severity
        signals.append(
            AlertSignal(
                source=source,
                fingerprint=alert.fingerprint or fingerprint_of(labels),
                status=alert.status,
                labels=labels,
                annotations={k: str(v)[:1000] for k, v in alert.details.items()},
                summary=alert.summary,
                starts_at=alert.starts_at or utcnow(),
            )
        )
    return signals
