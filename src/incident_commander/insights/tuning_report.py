"""Alert tuning across incidents: the noisiest alert rules and what to change about them.

The counts come from the store (every alert row, and whether its incident was dismissed as a
false positive); the suggestions from the ``alert-tuning-feedback.json`` files the evidence
folder holds: the one at its root (every false-positive alert, with advice) and the one in the
folder of each incident dismissed as a false positive.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incident_commander.insights.metrics import FALSE_POSITIVE_OUTCOMES, FALSE_POSITIVE_STATUS
from incident_commander.store.models import Alert, Incident, Signal

__all__ = ["FEEDBACK_FILE", "MAX_FEEDBACK_BYTES", "RuleTuning", "TuningReport", "tuning_report"]

FEEDBACK_FILE = "alert-tuning-feedback.json"
MAX_FEEDBACK_BYTES = 32 * 1024 * 1024
DISMISSED = "dismissed with its incident"
SHOWN_REFERENCES = 10


@dataclass
class Suggestion:
    """One piece of advice, how often it was given, and where (incident ids or fingerprints)."""

    text: str
    count: int = 0
    seen_in: set[str] = field(default_factory=set)
    reasons: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "suggestion": self.text,
            "count": self.count,
            "seen_in": sorted(self.seen_in)[:SHOWN_REFERENCES],
            "reasons": sorted(self.reasons)[:SHOWN_REFERENCES],
        }


@dataclass
class RuleTuning:
    """One alert rule: its alerts, its false positives by kind, and the advice gathered."""

    rule: str
    alerts: int = 0
    false_positives: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    suggestions: dict[str, Suggestion] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return self.false_positives / self.alerts if self.alerts else None

    def suggest(self, text: str, where: str | None, reason: str | None) -> None:
        entry = self.suggestions.setdefault(text, Suggestion(text))
        entry.count += 1
        if where:
            entry.seen_in.add(where)
        if reason:
            entry.reasons.add(reason)

    def as_dict(self) -> dict[str, Any]:
        ordered = sorted(self.suggestions.values(), key=lambda s: (-s.count, s.text))
        return {
            "rule": self.rule,
            "alerts": self.alerts,
            "false_positives": self.false_positives,
            "false_positive_rate": None if self.rate is None else round(self.rate, 4),
            "outcomes": dict(sorted(self.outcomes.items(), key=lambda kv: (-kv[1], kv[0]))),
            "suggestions": [s.as_dict() for s in ordered],
        }


@dataclass
class TuningReport:
    """The rules with false positives, noisiest first, and the files read on the way."""

    rules: list[RuleTuning]
    rules_seen: int
    files_read: list[str]
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rules": [r.as_dict() for r in self.rules],
            "rules_seen": self.rules_seen,
            "files_read": self.files_read,
            "problems": self.problems,
        }


def _from_store(session: Session) -> dict[str, RuleTuning]:
    rows = session.execute(
        select(Alert.alertname, Alert.outcome, Incident.status, func.count())
        .outerjoin(Incident, Incident.id == Alert.incident_id)
        .group_by(Alert.alertname, Alert.outcome, Incident.status)
    )
    rules: dict[str, RuleTuning] = {}
    for name, outcome, status, count in rows:
        rule = rules.setdefault(name, RuleTuning(name))
        rule.alerts += count
        if outcome in FALSE_POSITIVE_OUTCOMES:
            rule.false_positives += count
            rule.outcomes[outcome] += count
        elif status == FALSE_POSITIVE_STATUS:
            rule.false_positives += count
            rule.outcomes[DISMISSED] += count
    return rules


def _alert_names(session: Session, incident_ids: list[str]) -> dict[str, list[str]]:
    """The alert names each incident's signals carried."""
    names: dict[str, set[str]] = {i: set() for i in incident_ids}
    for incident_id, details in session.execute(
        select(Signal.incident_id, Signal.details).where(Signal.incident_id.in_(incident_ids))
    ):
        labels = (details or {}).get("labels")
        if isinstance(labels, dict) and labels.get("alertname"):
            names[incident_id].add(str(labels["alertname"]))
    return {i: sorted(n) for i, n in names.items()}


def _read(path: Path, root: Path, problems: list[str]) -> list[dict[str, Any]] | None:
    """The ``false_positives`` entries of one feedback file; a problem noted when unreadable."""
    name = str(path.relative_to(root))
    try:
        if path.stat().st_size > MAX_FEEDBACK_BYTES:
            problems.append(f"{name}: larger than {MAX_FEEDBACK_BYTES} bytes, not read")
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        problems.append(f"{name}: not readable JSON ({type(exc).__name__})")
        return None
    entries = data.get("false_positives") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        problems.append(f"{name}: no false_positives list")
        return None
    return [e for e in entries if isinstance(e, dict)]


def tuning_report(session: Session, evidence_root: Path) -> TuningReport:
    """Every alert rule with false positives, noisiest first, with the advice on file."""
    rules = _from_store(session)
    problems: list[str] = []
    read: list[str] = []
    top = evidence_root / FEEDBACK_FILE
    if top.is_file() and (entries := _read(top, evidence_root, problems)) is not None:
        read.append(FEEDBACK_FILE)
        for entry in entries:
            name = str(entry.get("alertname") or "unknown")
            rule = rules.setdefault(name, RuleTuning(name))
            if entry.get("suggestion"):
                where = entry.get("incident_id") or entry.get("fingerprint")
                rule.suggest(str(entry["suggestion"]), _text(where), _text(entry.get("reason")))
    folders = sorted(p for p in evidence_root.glob(f"*/{FEEDBACK_FILE}") if p.is_file())
    per_incident: dict[str, list[dict[str, Any]]] = {}
    for path in folders:
        entries = _read(path, evidence_root, problems)
        if entries is not None:
            read.append(str(path.relative_to(evidence_root)))
            per_incident[path.parent.name] = entries
    names = _alert_names(session, list(per_incident))
    for incident_id, entries in per_incident.items():
        for entry in entries:
            if not entry.get("suggestion"):
                continue
            source = entry.get("source") or "declared"
            for name in names.get(incident_id) or [f"{source} (no alert rule)"]:
                rule = rules.setdefault(name, RuleTuning(name))
                rule.suggest(str(entry["suggestion"]), incident_id, _text(entry.get("reason")))
    noisy = [r for r in rules.values() if r.false_positives or r.suggestions]
    noisy.sort(key=lambda r: (-r.false_positives, -(r.rate or 0.0), r.rule))
    return TuningReport(noisy, len(rules), read, problems)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:300]
