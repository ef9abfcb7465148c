"""Phase 4: recording what the post-incident review found, and waiving a blame finding.

The review holds what only people know: the 5 Whys, the cause at each level (symptom →
proximate → contributing → root → systemic), the contributing factors, what went well or
poorly and where luck helped, and prevention. Its action items become rows of their own
(``steps.follow_up``), the one place action items live.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from incident_commander.clock import isoformat, utcnow
from incident_commander.errors import InvalidInput, TransitionRejected
from incident_commander.protocol.postmortem import Blame, blame_of
from incident_commander.protocol.states import Status
from incident_commander.protocol.steps.follow_up import new_action
from incident_commander.reports.report import REPORT
from incident_commander.store.action_items import actions_of
from incident_commander.store.state import resolution_of

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["ActionItem", "Review", "blame_findings", "record_review", "waive_blame"]

REVIEWABLE = (Status.RESOLVED, Status.MONITORING, Status.CLOSED)


def _line() -> Any:
    return Field(default=None, max_length=5000)


def _items() -> Any:
    return Field(default_factory=list, max_length=50)


class ActionItem(BaseModel):
    """A follow-up with an owner and a due date, written with the review."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=1000)
    owner: str = Field(min_length=1, max_length=200)
    due: date
    kind: Literal["prevention", "detection", "mitigation", "process"] = "prevention"
    priority: Literal["high", "medium", "low"] = "medium"


class Review(BaseModel):
    """What the post-incident review found; every field optional, lists replace when given.

    ``actions`` are added as action items (never replaced).
    """

    model_config = ConfigDict(extra="forbid")

    summary: str | None = _line()
    impact: str | None = _line()
    symptom: str | None = _line()
    proximate_cause: str | None = _line()
    root_cause: str | None = _line()
    systemic_issue: str | None = _line()
    whys: list[str] = Field(default_factory=list, max_length=20)
    contributing: list[str] = _items()
    went_well: list[str] = _items()
    went_poorly: list[str] = _items()
    lucky: list[str] = _items()
    prevention: list[str] = _items()
    actions: list[ActionItem] = _items()


def record_review(kernel: Kernel, incident_id: str, review: Review, *, recorded_by: str) -> None:
    """Add the review's findings to a resolved incident; the report is rewritten with them."""
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        if inc.status not in REVIEWABLE:
            raise TransitionRejected(
                f"{inc.id}: the post-incident review is recorded once the incident is resolved "
                f"(now {inc.status})"
            )
        given = review.model_dump(mode="json", exclude_defaults=True, exclude={"actions"})
        if not given and not review.actions:
            raise InvalidInput("nothing to record: give a root cause, whys, factors or actions")
        if given:
            previous = resolution_of(inc).review
            inc.resolution = {**(inc.resolution or {}), "review": {**previous, **given}}
        named = sorted(given) + (["actions"] if review.actions else [])
        journal.event(
            inc, "postmortem.recorded", f"post-incident review by {recorded_by}: {', '.join(named)}"
        )
        for item in review.actions:
            new_action(
                journal,
                inc,
                title=item.text,
                owner=item.owner,
                due=item.due,
                kind=item.kind,
                priority=item.priority,
                by=recorded_by,
            )


def blame_findings(kernel: Kernel, incident_id: str) -> list[Blame]:
    """The blameless check now: the review's answers, the action items and the report."""
    report = kernel.evidence.path(incident_id) / REPORT
    text = report.read_text(encoding="utf-8") if report.is_file() else None
    with kernel.store.session() as session:
        actions = actions_of(session, incident_id)
    return blame_of(kernel.record(incident_id), kernel.settings, actions, text)


def waive_blame(kernel: Kernel, incident_id: str, n: int, *, reason: str, by: str) -> Blame:
    """Waive finding ``n`` of the blameless check, with the reason, on the record."""
    if not reason.strip():
        raise InvalidInput("a waiver needs a reason (--reason TEXT)")
    findings = blame_findings(kernel, incident_id)
    chosen = next((b for b in findings if b.n == n), None)
    if chosen is None:
        listed = f"findings are numbered 1 to {len(findings)}" if findings else "there is none"
        raise InvalidInput(f"{incident_id}: no blame finding #{n} ({listed})")
    waiver: dict[str, Any] = {"sentence": chosen.finding.sentence, "reason": reason, "by": by}
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        if inc.status not in REVIEWABLE:
            raise TransitionRejected(
                f"{inc.id}: blame findings are waived once the incident is resolved "
                f"(now {inc.status})"
            )
        waivers = [
            w
            for w in (inc.resolution or {}).get("blame_waivers", [])
            if w["sentence"] != chosen.finding.sentence
        ]
        waiver["at"] = isoformat(utcnow())
        inc.resolution = {**(inc.resolution or {}), "blame_waivers": [*waivers, waiver]}
        journal.event(
            inc,
            "postmortem.waiver",
            f"blame finding #{n} waived by {by}: {reason}",
            {"sentence": chosen.finding.sentence},
        )
    return Blame(chosen.n, chosen.finding, waiver)
