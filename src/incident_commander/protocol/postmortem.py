"""Phase 4 documents and their judgement: root-cause inputs with their manifest, the incident
report, the retrospective, when the post-mortem is due, and the blameless check of its words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from incident_commander.clock import isoformat
from incident_commander.config import Settings
from incident_commander.evidence.folder import EvidenceFolder
from incident_commander.evidence.record import IncidentRecord
from incident_commander.reports.blame import Finding, find_blame
from incident_commander.reports.report import (
    POSTMORTEM_DAYS,
    POSTMORTEM_LEVELS,
    REPORT,
    render_report,
)
from incident_commander.reports.retro import RETROSPECTIVE, render_retro
from incident_commander.store.action_items import OPEN
from incident_commander.store.models import ActionItem, Deploy, Incident
from incident_commander.store.state import resolution_of

__all__ = [
    "POSTMORTEM_DAYS",
    "Blame",
    "PostmortemState",
    "blame_of",
    "postmortem_state",
    "review_criteria",
    "review_texts",
    "write_postmortem",
    "write_report",
    "write_retro",
]

# The review's free-text answers, in the order they are scanned and shown.
_TEXT_FIELDS = (
    *("summary", "impact", "symptom", "proximate_cause", "root_cause", "systemic_issue"),
)
_LIST_FIELDS = ("whys", "contributing", "went_well", "went_poorly", "lucky", "prevention")


def write_postmortem(evidence: EvidenceFolder, session: Session, record: IncidentRecord) -> None:
    """Archive what the root-cause analysis will need, with hashes and evidence levels."""
    inc = record.incident
    inputs: dict[str, tuple[str, str, str]] = {}
    for n, execution in enumerate(record.executions, start=1):
        for m, command in enumerate(execution.commands, start=1):
            text = (
                f"$ {' '.join(command['argv'])}\n"
                f"# exit code: {command['exit_code']}  duration: {command['duration_s']} s\n"
                f"# stdout\n{command['stdout']}\n# stderr\n{command['stderr']}\n"
            )
            inputs[f"execution-{n:02d}-{execution.option_name}-{m:02d}.log"] = (
                text,
                f"command run by {execution.option_name}",
                "receipts",
            )
        inputs[f"execution-{n:02d}-{execution.option_name}-exit.json"] = (
            json.dumps(
                {
                    "status": execution.status,
                    "exit_codes": [c["exit_code"] for c in execution.commands],
                    "release_before": execution.release_before,
                    "release_after": execution.release_after,
                },
                indent=2,
            )
            + "\n",
            "executor result",
            "physics",
        )
    deploys = session.scalars(
        select(Deploy).where(Deploy.service == inc.service).order_by(Deploy.deployed_at)
    )
    inputs["deploy-history.json"] = (
        json.dumps(
            [
                {
                    "version": d.version,
                    "commit": d.commit,
                    "deployed_by": d.deployed_by,
                    "deployed_at": isoformat(d.deployed_at),
                    "suspect": d.id == inc.suspect_deploy_id,
                }
                for d in deploys
            ],
            indent=2,
        )
        + "\n",
        "deploy records",
        "artifacts",
    )
    inputs["signals.json"] = (
        json.dumps(
            [
                {
                    "at": isoformat(s.at),
                    "source": s.source,
                    "summary": s.summary,
                    "details": s.details,
                }
                for s in record.signals
            ],
            indent=2,
            default=str,
        )
        + "\n",
        "intake",
        "receipts",
    )
    if inc.readiness:
        inputs["readiness-checks.json"] = (
            json.dumps(inc.readiness, indent=2, default=str) + "\n",
            "readiness checks of the plan",
            "receipts",
        )
    if inc.validation:
        inputs["recovery-samples.json"] = (
            json.dumps(inc.validation, indent=2) + "\n",
            "recovery validation",
            "receipts",
        )
    evidence.archive_rca(session, record, inputs)


def write_report(
    evidence: EvidenceFolder, settings: Settings, session: Session, record: IncidentRecord
) -> None:
    """(Re)write INCIDENT-REPORT.md from the record."""
    evidence.write(session, record.incident.id, {REPORT: render_report(record, settings)})


def write_retro(
    evidence: EvidenceFolder,
    session: Session,
    record: IncidentRecord,
    context: dict[str, Any],
) -> str:
    """Write ``retrospective.md`` into the incident folder (its hash recorded); its name."""
    evidence.write(session, record.incident.id, {RETROSPECTIVE: render_retro(record, context)})
    return RETROSPECTIVE


@dataclass(frozen=True)
class PostmortemState:
    """Whether the incident needs a post-mortem, by when, and how far it has got."""

    required: bool
    due: date | None
    started: bool
    whys: int
    prevention: int
    overdue: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "required": self.required,
            "due": self.due.isoformat() if self.due else None,
            "started": self.started,
            "whys": self.whys,
            "prevention_items": self.prevention,
            "overdue": self.overdue,
        }


def _prevention(actions: list[ActionItem]) -> int:
    return len([a for a in actions if a.kind == "prevention" and a.owner.strip()])


def postmortem_state(
    inc: Incident, settings: Settings, actions: list[ActionItem], today: date
) -> PostmortemState:
    """The post-mortem of the top two levels is due a week after resolution."""
    scheme = settings.scheme
    rank = scheme.rank(inc.severity) if inc.severity in scheme.names else None
    required = rank is not None and rank < POSTMORTEM_LEVELS and inc.status != "false_positive"
    due = (
        inc.resolved_at.date() + timedelta(days=POSTMORTEM_DAYS)
        if required and inc.resolved_at
        else None
    )
    review = resolution_of(inc).review
    whys = len([w for w in review.get("whys", []) if str(w).strip()])
    started = bool(review) or bool(actions)
    done = whys > 0 and _prevention(actions) > 0
    return PostmortemState(
        required=required,
        due=due,
        started=started,
        whys=whys,
        prevention=_prevention(actions),
        overdue=due is not None and today > due and not done,
    )


def review_texts(review: dict[str, Any], actions: list[ActionItem]) -> list[tuple[str, str]]:
    """The people's words of the review, each with where it was written."""
    texts: list[tuple[str, str]] = []
    for name in _TEXT_FIELDS:
        if review.get(name):
            texts.append((name.replace("_", " "), str(review[name])))
    for name in _LIST_FIELDS:
        for n, item in enumerate(review.get(name, []), start=1):
            texts.append((f"{name.replace('_', ' ')} {n}", str(item)))
    for item in actions:
        texts.append((f"action #{item.id}", item.title))
        if item.note:
            texts.append((f"action #{item.id} note", item.note))
    return texts


@dataclass(frozen=True)
class Blame:
    """A finding of the blameless check, numbered, with its waiver if one was recorded."""

    n: int
    finding: Finding
    waiver: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "where": self.finding.where,
            "sentence": self.finding.sentence,
            "reason": self.finding.reason,
            "suggestion": self.finding.suggestion,
            "waived": self.waiver is not None,
            "waiver": self.waiver,
        }


def _people(record: IncidentRecord, settings: Settings, actions: list[ActionItem]) -> list[str]:
    names = [d.approver for d in record.decisions if d.approver and d.approver_type == "person"]
    names += [p.name for p in settings.people] + [a.owner for a in actions]
    if record.suspect_deploy and record.suspect_deploy.deployed_by:
        names.append(record.suspect_deploy.deployed_by)
    return [n for n in names if n]


def _systems(settings: Settings) -> list[str]:
    names = list(settings.services)
    for service in settings.services.values():
        names += [o.name for o in service.rollback_options]
    return names


def blame_of(
    record: IncidentRecord,
    settings: Settings,
    actions: list[ActionItem],
    report_text: str | None,
) -> list[Blame]:
    """The blameless check over the review's answers and the report, numbered from 1."""
    inc = record.incident
    texts = review_texts(resolution_of(inc).review, actions)
    if report_text:
        texts.append((REPORT, report_text))
    findings = find_blame(texts, _people(record, settings, actions), _systems(settings))
    waivers = {_key(w["sentence"]): w for w in (inc.resolution or {}).get("blame_waivers", [])}
    return [
        Blame(n, finding, waivers.get(_key(finding.sentence)))
        for n, finding in enumerate(findings, start=1)
    ]


def _key(sentence: str) -> str:
    return " ".join(str(sentence).lower().split())


def review_criteria(
    record: IncidentRecord,
    settings: Settings,
    actions: list[ActionItem],
    report_text: str | None,
    today: date,
) -> list[tuple[str, bool, str]]:
    """Gate 4's post-mortem criteria: (criterion, passed, what was found).

    The 5 Whys and a prevention item are asked of the top two levels once the post-mortem has
    started or is due; the blameless check applies to every incident.
    """
    state = postmortem_state(record.incident, settings, actions, today)
    found: list[tuple[str, bool, str]] = []
    if state.required:
        judged = state.started or state.overdue
        due = f"due {state.due.isoformat()}" if state.due else "due a week after resolution"
        pending = f"post-mortem not started yet ({due})"
        found.append(
            (
                "post-mortem: 5 Whys answered",
                state.whys > 0 or not judged,
                f"{state.whys} why(s) recorded" if judged else pending,
            )
        )
        open_prevention = [a for a in actions if a.kind == "prevention" and a.status == OPEN]
        found.append(
            (
                "post-mortem: a prevention action item with an owner and a due date",
                state.prevention > 0 or not judged,
                (
                    f"{state.prevention} prevention item(s) ({len(open_prevention)} open) of "
                    f"{len(actions)} action item(s)"
                    if state.prevention
                    else f"no prevention item among {len(actions)} action item(s)"
                )
                if judged
                else pending,
            )
        )
    blame = blame_of(record, settings, actions, report_text)
    unwaived = [b for b in blame if b.waiver is None]
    found.append(
        (
            "blameless: no unwaived blame finding",
            not unwaived,
            "; ".join(f"#{b.n} ({b.finding.where}) {b.finding.sentence!r}" for b in unwaived)
            or f"{len(blame)} finding(s), all waived"
            if blame
            else "no finding",
        )
    )
    return found
