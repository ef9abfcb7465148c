"""Content digests: what the evidence is rendered from, one sha256 per recorded thing.

Each step's last timeline event carries the digests of everything recorded about its incident
at commit (``data["digests"]``), so the chain covers the rows, not just the lines about them.
Subjects: ``incident`` (what was declared, and the suspect deploy), ``severity``, ``status``,
``timestamps``, one per JSON document (``assessment``, ``plan``, ``readiness``, ``validation``,
``resolution``), ``signals`` (a running hash over the intake, ``COUNT:HASH``), and one per
``decision #ID``, ``execution #ID`` and ``notification #ID``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from incident_commander.evidence.chain import GENESIS, canonical, digest
from incident_commander.store.models import (
    Decision,
    Deploy,
    Execution,
    Incident,
    Notification,
    Signal,
)

__all__ = [
    "DOCUMENTS",
    "LABELS",
    "content_digests",
    "extend_signals",
    "row_digests",
    "subject_of",
]

DOCUMENTS = ("assessment", "plan", "readiness", "validation", "resolution")
_INCIDENT_PARTS = {
    "incident": ("id", "title", "service", "source", "detected_by", "symptoms"),
    "severity": ("severity", "severity_confirmed"),
    "status": ("status", "resume_status", "halt_reason"),
    "timestamps": (
        *("first_signal_at", "detected_at", "acknowledged_at", "mitigated_at"),
        *("recovered_at", "resolved_at", "closed_at"),
    ),
}
LABELS = {
    "incident": "the incident's declaration",
    "severity": "the severity",
    "status": "the status",
    "timestamps": "the incident's timestamps",
    "assessment": "the severity assessment",
    "plan": "the mitigation plan",
    "readiness": "the readiness checklist",
    "validation": "the recovery validation",
    "resolution": "the resolution",
    "signals": "the intake signals",
}
_DECISION_FIELDS = (
    *("kind", "subject", "prompt", "asked_at", "answered_at", "answer", "approver"),
    *("approver_type", "rationale"),
)
# Added later: part of a decision's digest only when set, so earlier records verify as sealed.
_DECISION_TERMS = ("expires_at", "requires", "votes")
_EXECUTION_FIELDS = (
    *("idempotency_key", "option_name", "kind", "decision_id", "status", "owner"),
    *("target_release", "release_before", "release_after", "started_at", "finished_at"),
    *("duration_s", "commands", "error"),
)
_NOTIFICATION_FIELDS = ("at", "channel", "audience", "subject", "body", "ok", "detail")
_SIGNAL_FIELDS = ("at", "source", "detected_by", "summary", "details")
_DEPLOY_FIELDS = ("service", "version", "commit", "deployed_by", "deployed_at")


def _fields(row: object, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def _decision(row: Decision) -> dict[str, Any]:
    facts = _fields(row, _DECISION_FIELDS)
    facts |= {name: value for name in _DECISION_TERMS if (value := getattr(row, name))}
    return facts


def _incident(inc: Incident, deploy: Deploy | None) -> dict[str, str]:
    parts = {name: _fields(inc, fields) for name, fields in _INCIDENT_PARTS.items()}
    parts["incident"]["suspect_deploy"] = _fields(deploy, _DEPLOY_FIELDS) if deploy else None
    return {name: digest(facts) for name, facts in parts.items()}


def extend_signals(previous: str | None, signals: Iterable[Signal]) -> str:
    """Fold more signals (in id order) into a ``COUNT:HASH`` running digest."""
    count, running = (0, GENESIS) if previous is None else previous.split(":", 1)
    total = int(count)
    for signal in signals:
        item = canonical(_fields(signal, _SIGNAL_FIELDS))
        running = hashlib.sha256(running.encode() + b"\n" + item).hexdigest()
        total += 1
    return f"{total}:{running}"


def row_digests(
    decisions: Iterable[Decision],
    executions: Iterable[Execution],
    notifications: Iterable[Notification],
) -> dict[str, str]:
    """One digest per decision, execution and notification, keyed ``KIND #ID``."""
    found = {f"decision #{d.id}": digest(_decision(d)) for d in decisions}
    found |= {f"execution #{e.id}": digest(_fields(e, _EXECUTION_FIELDS)) for e in executions}
    found |= {
        f"notification #{n.id}": digest(_fields(n, _NOTIFICATION_FIELDS)) for n in notifications
    }
    return found


def content_digests(
    inc: Incident,
    deploy: Deploy | None,
    signals: str,
    rows: dict[str, str],
) -> dict[str, str]:
    """Every subject's digest: the incident, its documents, the intake, and each row."""
    found = _incident(inc, deploy) | {"signals": signals}
    for name in DOCUMENTS:
        value = getattr(inc, name)
        if value is not None:
            found[name] = digest(value)
    return found | rows


def subject_of(key: str) -> str:
    """How a subject is named to a reader (``execution #3`` stays as it is)."""
    return LABELS.get(key, key)
