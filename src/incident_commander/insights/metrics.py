"""Numbers across incidents: counts, response times, gate outcomes, noisy alert rules, weekly trend.

Read from the store only, so ``ic metrics``, ``GET /api/v1/metrics`` and the gauges on
``/metrics`` agree. An incident belongs to a period by the time it was detected; an alert by the
time it was first seen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from incident_commander.insights.period import Period
from incident_commander.insights.stats import Spread, spread
from incident_commander.insights.trend import Week, ordered, weekly_trend
from incident_commander.store.action_items import count_open_and_overdue
from incident_commander.store.models import Alert, Decision, Execution, Incident

__all__ = [
    "FALSE_POSITIVE_OUTCOMES",
    "GATE_OUTCOMES",
    "MEASURES",
    "GateRate",
    "IncidentMetrics",
    "Measure",
    "RuleNoise",
    "action_item_counts",
    "compute_metrics",
]

# The alert outcomes the alert-tuning feedback lists as false positives (alerts/tuning.py);
# an alert whose incident was dismissed as a false positive counts as one too.
FALSE_POSITIVE_OUTCOMES = ("duplicate", "flapping", "resolved_in_window", "maintenance")
FALSE_POSITIVE_STATUS = "false_positive"


@dataclass(frozen=True)
class Measure:
    """A response time: from one recorded moment to another."""

    name: str
    short: str
    start: str
    end: str


MEASURES = (
    Measure("time_to_detect", "MTTD", "first signal", "detected (incident opened)"),
    Measure(
        "time_to_acknowledge",
        "MTTA",
        "detected",
        "severity confirmed or first answer by a person, whichever came first",
    ),
    Measure("time_to_mitigate", "TTM", "first signal", "mitigation succeeded"),
    Measure("time_to_recover", "MTTR", "first signal", "recovery verified"),
    Measure("time_to_resolve", "TTR", "first signal", "resolution confirmed"),
)

# What each gate guards, as the store records it (``ic gate check`` runs every criterion).
GATE_OUTCOMES = {
    "1": ("Severity alignment", "severity assessed", "severity confirmed"),
    "2": (
        "Mitigation readiness",
        "plan written",
        "readiness passed and a mitigation approved",
    ),
    "3": ("Recovery validation", "a mitigation ran", "a mitigation succeeded, recovery verified"),
    "4": ("Resolution & documentation", "resolution confirmed", "closed (gate 4 passed)"),
}


@dataclass(frozen=True)
class GateRate:
    """How many incidents reached a gate's point, and how many of them passed it."""

    gate: str
    title: str
    applies: int
    passed: int

    @property
    def rate(self) -> float | None:
        return self.passed / self.applies if self.applies else None

    def as_dict(self) -> dict[str, Any]:
        title, applies_when, passes_when = GATE_OUTCOMES[self.gate]
        return {
            "gate": self.gate,
            "title": title,
            "counted_when": applies_when,
            "passed_when": passes_when,
            "counted": self.applies,
            "passed": self.passed,
            "rate": None if self.rate is None else round(self.rate, 4),
        }


@dataclass(frozen=True)
class RuleNoise:
    """One alert rule (alert name): its alerts, and how many were false positives."""

    rule: str
    alerts: int
    false_positives: int

    @property
    def rate(self) -> float:
        return self.false_positives / self.alerts if self.alerts else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "alerts": self.alerts,
            "false_positives": self.false_positives,
            "false_positive_rate": round(self.rate, 4),
        }


@dataclass(frozen=True)
class IncidentMetrics:
    """Everything ``ic metrics`` reports for one period."""

    period: Period
    incidents: int
    by_severity: dict[str, int]
    by_service: dict[str, int]
    by_status: dict[str, int]
    durations: dict[str, Spread]
    gates: list[GateRate]
    alert_rules: list[RuleNoise]
    weeks: list[Week]
    action_items: dict[str, int] | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.as_dict(),
            "incidents": self.incidents,
            "by_severity": self.by_severity,
            "by_service": self.by_service,
            "by_status": self.by_status,
            "percentile": "nearest-rank",
            "durations": {
                m.name: {
                    "short": m.short,
                    "from": m.start,
                    "to": m.end,
                    **self.durations[m.name].as_dict(),
                }
                for m in MEASURES
            },
            "gates": [g.as_dict() for g in self.gates],
            "alert_rules": [r.as_dict() for r in self.alert_rules],
            "action_items": self.action_items,
            "weeks": [w.as_dict() for w in self.weeks],
            "notes": self.notes,
        }


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def _in_period(period: Period) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if period.since is not None:
        conditions.append(Incident.detected_at >= period.since)
    if period.until is not None:
        conditions.append(Incident.detected_at < period.until)
    if period.service is not None:
        conditions.append(Incident.service == period.service)
    return conditions


def _per_incident(session: Session, period: Period) -> dict[str, dict[str, Any]]:
    """What the decisions and executions add to each incident of the period."""
    scope = _in_period(period)
    facts: dict[str, dict[str, Any]] = {}
    answered = session.execute(
        select(Decision.incident_id, func.min(Decision.answered_at))
        .join(Incident, Incident.id == Decision.incident_id)
        .where(*scope, Decision.approver_type == "person", Decision.answered_at.is_not(None))
        .group_by(Decision.incident_id)
    )
    for incident_id, first in answered:
        facts.setdefault(incident_id, {})["first_person_answer"] = first
    approved = session.execute(
        select(Decision.incident_id)
        .join(Incident, Incident.id == Decision.incident_id)
        .where(*scope, Decision.kind == "mitigation", Decision.answer == "yes")
        .distinct()
    )
    for (incident_id,) in approved:
        facts.setdefault(incident_id, {})["mitigation_approved"] = True
    succeeded = case((Execution.status == "succeeded", 1), else_=0)
    ran = session.execute(
        select(Execution.incident_id, func.count(), func.sum(succeeded))
        .join(Incident, Incident.id == Execution.incident_id)
        .where(*scope)
        .group_by(Execution.incident_id)
    )
    for incident_id, runs, ok in ran:
        entry = facts.setdefault(incident_id, {})
        entry["executions"], entry["succeeded"] = int(runs), int(ok or 0)
    return facts


def _acknowledged(row: Any, extra: dict[str, Any]) -> datetime | None:
    moments = [m for m in (row.acknowledged_at, extra.get("first_person_answer")) if m is not None]
    return min(moments) if moments else None


def _durations(row: Any, extra: dict[str, Any]) -> dict[str, float | None]:
    return {
        "time_to_detect": _seconds(row.first_signal_at, row.detected_at),
        "time_to_acknowledge": _seconds(row.detected_at, _acknowledged(row, extra)),
        "time_to_mitigate": _seconds(row.first_signal_at, row.mitigated_at),
        "time_to_recover": _seconds(row.first_signal_at, row.recovered_at),
        "time_to_resolve": _seconds(row.first_signal_at, row.resolved_at),
    }


def _gate_outcomes(row: Any, extra: dict[str, Any]) -> dict[str, tuple[bool, bool]]:
    """For each gate: (the incident reached its point, it passed)."""
    readiness = row.readiness or {}
    return {
        "1": (bool(row.assessment), bool(row.severity_confirmed)),
        "2": (
            bool(row.plan),
            bool(readiness.get("passed")) and bool(extra.get("mitigation_approved")),
        ),
        "3": (
            bool(extra.get("executions")),
            bool(extra.get("succeeded")) and row.recovered_at is not None,
        ),
        "4": (row.resolved_at is not None, row.closed_at is not None),
    }


def _alert_rules(session: Session, period: Period) -> list[RuleNoise]:
    """False positives per alert rule, noisiest first."""
    noisy = case(
        (
            or_(
                Alert.outcome.in_(FALSE_POSITIVE_OUTCOMES),
                Incident.status == FALSE_POSITIVE_STATUS,
            ),
            1,
        ),
        else_=0,
    )
    conditions: list[ColumnElement[bool]] = []
    if period.since is not None:
        conditions.append(Alert.first_seen >= period.since)
    if period.until is not None:
        conditions.append(Alert.first_seen < period.until)
    if period.service is not None:
        conditions.append(Alert.group_key == period.service)
    rows = session.execute(
        select(Alert.alertname, func.count(), func.sum(noisy))
        .outerjoin(Incident, Incident.id == Alert.incident_id)
        .where(*conditions)
        .group_by(Alert.alertname)
    )
    rules = [RuleNoise(name, int(total), int(fp or 0)) for name, total, fp in rows]
    return sorted(rules, key=lambda r: (-r.rate, -r.false_positives, r.rule))


def action_item_counts(session: Session, now: datetime) -> dict[str, int] | None:
    """Open and overdue action items, across every incident, as they stand at ``now``.

    ``open``: the rows not done; ``overdue``: those of them whose due date is before ``now``'s
    day (UTC). Never ``None`` now that the store keeps action items in a table of their own.
    """
    return count_open_and_overdue(session, now.astimezone(UTC).date())


def compute_metrics(
    session: Session,
    period: Period,
    *,
    now: datetime,
    severities: Sequence[str] = (),
) -> IncidentMetrics:
    """The metrics of the incidents detected in ``period``.

    ``severities``: the scheme's levels, most severe first, to order the counts by.
    """
    rows = session.execute(
        select(
            *(Incident.id, Incident.service, Incident.severity, Incident.status),
            *(Incident.first_signal_at, Incident.detected_at, Incident.acknowledged_at),
            *(Incident.mitigated_at, Incident.recovered_at, Incident.resolved_at),
            *(Incident.closed_at, Incident.severity_confirmed, Incident.readiness),
            # Read whole: an unset JSON column may hold SQL NULL or JSON null.
            *(Incident.assessment, Incident.plan),
        )
        .where(*_in_period(period))
        .order_by(Incident.detected_at, Incident.id)
    ).all()
    extras = _per_incident(session, period)
    measured: dict[str, list[float]] = {m.name: [] for m in MEASURES}
    recover: dict[str, float | None] = {}
    reached = Counter[str]()
    passed = Counter[str]()
    for row in rows:
        extra = extras.get(row.id, {})
        for name, value in _durations(row, extra).items():
            if value is not None:
                measured[name].append(value)
            if name == "time_to_recover":
                recover[row.id] = value
        for gate, (applies, ok) in _gate_outcomes(row, extra).items():
            reached[gate] += applies
            passed[gate] += applies and ok
    order = list(severities)
    items = action_item_counts(session, now)
    return IncidentMetrics(
        period=period,
        incidents=len(rows),
        by_severity=ordered(Counter(r.severity or "unassessed" for r in rows), order),
        by_service=ordered(Counter(r.service for r in rows), ()),
        by_status=ordered(Counter(r.status for r in rows), ()),
        durations={name: spread(values) for name, values in measured.items()},
        gates=[GateRate(g, GATE_OUTCOMES[g][0], reached[g], passed[g]) for g in GATE_OUTCOMES],
        alert_rules=_alert_rules(session, period),
        weeks=weekly_trend(rows, period, recover, now=now, severities=order),
        action_items=items,
        notes=[]
        if items is not None
        else ["action items: not counted yet; the store has no action-items table"],
    )
