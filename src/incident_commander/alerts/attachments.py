"""Alerts attached to incidents: a signal row each in the intake log, one timeline line a kind.

During a storm hundreds of alerts join the same incident; the intake log keeps every one, the
timeline says it once per delivery ("48 alerts joined: A, B, … and 38 more").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from incident_commander.alerts.signal import AlertSignal
from incident_commander.clock import utcnow
from incident_commander.protocol.journal import Journal
from incident_commander.store.models import Incident, Signal

__all__ = ["Attachments", "signal_row"]

# How many alert names one timeline line lists before it says "and N more".
NAMES_PER_LINE = 10
PLURAL = {"alert joined": "alerts joined", "alert cleared": "alerts cleared"}


class Attachments:
    """The alerts a transaction attaches, by incident and kind, written together at its end."""

    def __init__(self) -> None:
        self.by_incident: dict[str, tuple[Incident, dict[str, list[AlertSignal]]]] = {}

    def add(self, inc: Incident, signal: AlertSignal, note: str) -> None:
        entry = self.by_incident.setdefault(inc.id, (inc, {}))
        entry[1].setdefault(note, []).append(signal)

    def write(self, journal: Journal) -> None:
        rows: list[dict[str, Any]] = []
        for inc, notes in self.by_incident.values():
            for note, signals in notes.items():
                rows.extend(signal_row(inc.id, signal) for signal in signals)
                journal.event(inc, "signal.received", _summary(note, signals))
        if rows:
            journal.session.execute(insert(Signal), rows)
        self.by_incident.clear()


def signal_row(incident_id: str, signal: AlertSignal) -> dict[str, Any]:
    """The intake-log row of one alert attached to an incident."""
    return {
        "incident_id": incident_id,
        "at": utcnow(),
        "source": signal.source,
        "detected_by": signal.source,
        "summary": signal.summary[:10_000],
        "details": {
            "labels": signal.labels,
            "annotations": signal.annotations,
            "fingerprint": signal.fingerprint,
            "status": signal.status,
        },
    }


def _summary(note: str, signals: list[AlertSignal]) -> str:
    named = [f"{s.alertname[:200]} ({s.status})" for s in signals[:NAMES_PER_LINE]]
    if len(signals) == 1:
        return f"{note}: {named[0]}"
    more = len(signals) - len(named)
    listed = ", ".join(named) + (f", and {more} more" if more else "")
    return f"{len(signals)} {PLURAL.get(note, note)}: {listed}"
