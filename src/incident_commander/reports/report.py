"""``INCIDENT-REPORT.md``: the report and post-mortem, from recorded facts only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import object_session

from incident_commander.config import Settings
from incident_commander.evidence.manifest import cited
from incident_commander.evidence.record import IncidentRecord
from incident_commander.evidence.render import durations
from incident_commander.insights.similar import similar_to
from incident_commander.reports.markdown import MARKDOWN_TEMPLATES
from incident_commander.store.action_items import actions_of
from incident_commander.store.models import ActionItem
from incident_commander.store.state import resolution_of

__all__ = [
    "CAUSE_LEVELS",
    "POSTMORTEM_DAYS",
    "POSTMORTEM_LEVELS",
    "REPORT",
    "REQUIRED_SECTIONS",
    "render_report",
    "report_sections",
    "similar_section",
]

REPORT = "INCIDENT-REPORT.md"
REQUIRED_SECTIONS = (
    "Summary",
    "Severity and why",
    "Impact",
    "Timeline",
    "Suspect deploy",
    "Actions and results",
    "Recovery evidence",
    "Durations",
)

SIMILAR_SHOWN = 3
CAUSE_LEVELS = (
    ("symptom", "Symptom"),
    ("proximate_cause", "Proximate cause"),
    ("contributing", "Contributing factor"),
    ("root_cause", "Root cause"),
    ("systemic_issue", "Systemic issue"),
)
# PROTOCOL §5: the post-incident review within a week for the top two levels.
POSTMORTEM_LEVELS = 2
POSTMORTEM_DAYS = 7


def similar_section(record: IncidentRecord) -> list[dict[str, Any]]:
    """The closest past incidents, read in the session the record was loaded in.

    Only incidents that had ended when this one was detected count, so the section never
    changes once written. A record no longer attached to a session has none to show.
    """
    session = object_session(record.incident)
    if session is None:
        return []
    matches = similar_to(session, record.incident, limit=SIMILAR_SHOWN)
    return [{**m.as_dict(), "explained": m.explain()} for m in matches]


def actions_section(record: IncidentRecord) -> list[ActionItem]:
    """The incident's action items, read in the session the record was loaded in."""
    session = object_session(record.incident)
    return actions_of(session, record.incident.id) if session is not None else []


def cause_levels(review: dict[str, Any]) -> dict[str, str | None]:
    """The review's cause at each level, symptom first (contributing factors joined)."""
    levels: dict[str, str | None] = {}
    for key, label in CAUSE_LEVELS:
        value = review.get(key)
        levels[label] = "; ".join(value) if isinstance(value, list) else value
    return levels


def postmortem_due(record: IncidentRecord, settings: Settings) -> str | None:
    """The post-mortem's due date for the top two levels once resolved (never moves)."""
    inc = record.incident
    scheme = settings.scheme
    if inc.resolved_at is None or inc.severity not in scheme.names:
        return None
    if scheme.rank(inc.severity) >= POSTMORTEM_LEVELS or inc.status == "false_positive":
        return None
    return (inc.resolved_at.date() + timedelta(days=POSTMORTEM_DAYS)).isoformat()


def report_sections(record: IncidentRecord) -> dict[str, bool]:
    """For each required section, whether the record holds data for it."""
    inc = record.incident
    return {
        "Summary": bool(inc.title),
        "Severity and why": bool(inc.severity and inc.assessment),
        "Impact": bool(inc.symptoms or (inc.assessment or {}).get("answers")),
        "Timeline": bool(record.events),
        "Suspect deploy": record.suspect_deploy is not None or bool(inc.plan),
        "Actions and results": bool(record.executions),
        "Recovery evidence": bool(inc.validation),
        "Durations": inc.recovered_at is not None,
    }


def render_report(record: IncidentRecord, settings: Settings) -> str:
    """The Markdown report; every section without data says so instead of guessing."""
    inc = record.incident
    sections = report_sections(record)
    validation: dict[str, Any] = inc.validation or {}
    context = {
        "inc": inc,
        "record": record,
        "assessment": inc.assessment or {},
        "answers": (inc.assessment or {}).get("answers") or {},
        "plan": inc.plan or {},
        "validation": validation,
        "latest": (validation.get("attempts") or [{}])[-1],
        "resolution": inc.resolution or {},
        "review": resolution_of(inc).review,
        "durations": durations(record),
        "sections": sections,
        "completeness": sum(sections.values()) / len(sections),
        "scheme": settings.scheme.name,
        "decisions": record.decisions,
        "similar": similar_section(record),
        "inputs": cited(record),
        "levels": cause_levels(resolution_of(inc).review),
        "actions": actions_section(record),
        "postmortem_due": postmortem_due(record, settings),
    }
    return MARKDOWN_TEMPLATES.get_template("incident-report.md.j2").render(**context)
