"""``retrospective.md``: the protocol's own retrospective of one incident (seed 001).

What happened in a few lines, what went well and poorly, how each gate judged, the action
items, and the protocol changes the record suggests: every line is read from the record or
from what the caller measured (the gates, the action items), never invented.
"""

from __future__ import annotations

from typing import Any

from incident_commander.evidence.record import IncidentRecord
from incident_commander.reports.markdown import MARKDOWN_TEMPLATES
from incident_commander.store.state import resolution_of

__all__ = ["HIGHLIGHT_KINDS", "RETROSPECTIVE", "proposed_changes", "render_retro"]

RETROSPECTIVE = "retrospective.md"
HIGHLIGHT_KINDS = (
    *("incident.declared", "severity.assessed", "severity.raised", "approval.answered"),
    *("approval.expired", "plan.written", "halted", "automation", "execution.interrupted"),
    *("incident.resolved", "status", "postmortem.recorded", "monitoring.complete"),
)


def proposed_changes(record: IncidentRecord, context: dict[str, Any]) -> list[str]:
    """Changes to the protocol or its configuration that this incident's record points to."""
    found: list[str] = []
    for gate in context["gates"]:
        if not gate["passed"]:
            found.append(
                f"{gate['title']} failed ({gate['found']}): either the step it checks needs "
                "support (automation, a clearer prompt) or its threshold needs calibrating."
            )
    failed = [e for e in record.executions if e.status not in ("succeeded", "started")]
    for execution in failed:
        found.append(
            f"Option {execution.option_name} ({execution.kind}) ended {execution.status}"
            + (f" ({execution.error})" if execution.error else "")
            + ": add a readiness item that would have caught it before it ran."
        )
    halts = [e for e in record.events if e.kind == "status" and "→ halted" in e.message]
    if halts:
        found.append(
            f"The incident halted {len(halts)} time(s): make each missing input a configured "
            "prerequisite so the plan names it before approval."
        )
    expired = [e for e in record.events if e.kind == "approval.expired"]
    if expired:
        found.append(
            f"{len(expired)} approval(s) expired unanswered: review the approval deadlines and "
            "who they escalate to."
        )
    for action in context["actions"]:
        if action["kind"] == "process":
            found.append(f"Process change from the review: {action['title']} (#{action['n']}).")
    for item in resolution_of(record.incident).review.get("went_poorly", []):
        found.append(f"Went poorly, to address in the protocol or its runbooks: {item}")
    return found


def render_retro(record: IncidentRecord, context: dict[str, Any]) -> str:
    """The Markdown retrospective; ``context`` holds gates, actions, blame and the post-mortem."""
    review = resolution_of(record.incident).review
    highlights = [e for e in record.events if e.kind in HIGHLIGHT_KINDS]
    return MARKDOWN_TEMPLATES.get_template("retrospective.md.j2").render(
        inc=record.incident,
        review=review,
        highlights=highlights,
        changes=proposed_changes(record, context),
        **context,
    )
