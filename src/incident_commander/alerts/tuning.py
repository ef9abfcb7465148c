"""``alert-tuning-feedback.json`` at the evidence root: every false-positive alert, with advice."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from incident_commander.clock import isoformat, utcnow
from incident_commander.evidence.files import atomic_write
from incident_commander.store.db import Store
from incident_commander.store.models import Alert

__all__ = ["SUGGESTIONS", "TUNING_FILE", "write_alert_tuning"]

TUNING_FILE = "alert-tuning-feedback.json"
SUGGESTIONS = {
    "duplicate": "the sender repeats this alert; raise its repeat or group interval",
    "flapping": "add a `for:` duration or hysteresis to the rule so it stops flapping",
    "resolved_in_window": "lengthen the rule's `for:` duration beyond the confirmation window",
    "maintenance": "silence this alert at the source during planned maintenance",
}


def write_alert_tuning(store: Store, root: Path) -> Path:
    """Rewrite the feedback file from the alerts recorded as false positives."""
    with store.session() as session:
        rows = list(
            session.scalars(
                select(Alert).where(Alert.outcome.in_(list(SUGGESTIONS))).order_by(Alert.id)
            )
        )
        entries = [
            {
                "source": a.source,
                "alertname": a.alertname,
                "group": a.group_key,
                "fingerprint": a.fingerprint,
                "outcome": a.outcome,
                "reason": a.reason,
                "occurrences": a.occurrences,
                "first_seen": isoformat(a.first_seen),
                "last_seen": isoformat(a.last_seen),
                "incident_id": a.incident_id,
                "suggestion": SUGGESTIONS[a.outcome],
            }
            for a in rows
        ]
    path = root / TUNING_FILE
    body = {"generated_at": isoformat(utcnow()), "false_positives": entries}
    atomic_write(path, (json.dumps(body, indent=2) + "\n").encode())
    return path
