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
    """Rewrite the feedback file from the alerts recorded as false positives.

    One entry per line: readable, and quick to write when an alert storm lists thousands.
    """
    columns = (
        *(Alert.source, Alert.alertname, Alert.group_key, Alert.fingerprint, Alert.outcome),
        *(Alert.reason, Alert.occurrences, Alert.first_seen, Alert.last_seen, Alert.incident_id),
    )
    with store.session() as session:
        rows = session.execute(
            select(*columns).where(Alert.outcome.in_(list(SUGGESTIONS))).order_by(Alert.id)
        ).all()
    lines = [
        json.dumps(
            {
                "source": row.source,
                "alertname": row.alertname,
                "group": row.group_key,
                "fingerprint": row.fingerprint,
                "outcome": row.outcome,
                "reason": row.reason,
                "occurrences": row.occurrences,
                "first_seen": isoformat(row.first_seen),
                "last_seen": isoformat(row.last_seen),
                "incident_id": row.incident_id,
                "suggestion": SUGGESTIONS[row.outcome],
            }
        )
        for row in rows
    ]
    entries = "[\n    " + ",\n    ".join(lines) + "\n  ]" if lines else "[]"
    body = f'{{\n  "generated_at": {json.dumps(isoformat(utcnow()))},\n'
    body += f'  "false_positives": {entries}\n}}\n'
    path = root / TUNING_FILE
    atomic_write(path, body.encode())
    return path
