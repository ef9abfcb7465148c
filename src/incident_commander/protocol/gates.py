"""The quality gates of PROTOCOL §4, each a check over the incident's evidence folder."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from incident_commander.clock import utcnow
from incident_commander.errors import InvalidInput
from incident_commander.evidence.chain import LINE_PATTERN
from incident_commander.evidence.files import sha256_file
from incident_commander.evidence.folder import RCA_MANIFEST
from incident_commander.evidence.record import IncidentRecord
from incident_commander.evidence.render import (
    DECISIONS,
    EXECUTION,
    INTAKE,
    PLAN,
    READINESS,
    RESOLUTION,
    SEVERITY,
    TIMELINE,
    VALIDATION,
)
from incident_commander.evidence.upstream import find_inputs
from incident_commander.notify.routing import STAKEHOLDER_AUDIENCES, audiences_of
from incident_commander.protocol.postmortem import review_criteria
from incident_commander.reports.report import REPORT, report_sections
from incident_commander.store.action_items import actions_of
from incident_commander.store.models import Deploy, Notification

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["GATES", "Criterion", "GateResult", "run_gate", "run_gates"]

GATES = ("prerequisites", "1", "2", "3", "4")
TITLES = {
    "prerequisites": "Prerequisites",
    "1": "Gate 1: Severity alignment",
    "2": "Gate 2: Mitigation readiness",
    "3": "Gate 3: Recovery validation",
    "4": "Gate 4: Resolution & documentation",
}
NEXT_STEP = {
    "prerequisites": "record the alert source (`ic declare`), the deploy context "
    "(`ic deploy record`) and a rollback option for the service in ic.yaml",
    "1": "reassess severity with the on-call team (`ic assess`, `ic approve`) and make sure a "
    "notification channel delivers; delay mitigation until agreed",
    "2": "escalate missing rollback prerequisites (`ic plan` shows them) and record the "
    "approval before executing",
    "3": "re-run the mitigation or escalate severity; consider the alternate rollback option",
    "4": "complete the missing documentation (`ic report`) before closing",
}


class Criterion(BaseModel):
    """One thing a gate checks."""

    criterion: str
    passed: bool
    found: str


class GateResult(BaseModel):
    """A gate's verdict: its criteria, what was found, and what to do next."""

    gate: str
    title: str
    passed: bool
    criteria: list[Criterion]
    found: str
    next_step: str
    notes: list[str] = Field(default_factory=list)


def _read_json(folder: Path, name: str) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _prerequisites(ctx: _Context) -> list[Criterion]:
    with ctx.kernel.store.session() as session:
        deploys = session.scalar(
            select(func.count()).select_from(Deploy).where(Deploy.service == ctx.inc.service)
        )
    service = ctx.kernel.settings.services.get(ctx.inc.service)
    options = [o.name for o in service.rollback_options] if service else []
    return [
        Criterion(
            criterion="alert source recorded",
            passed=bool(ctx.record.signals) and (ctx.folder / INTAKE).is_file(),
            found=f"{len(ctx.record.signals)} signal(s) in {INTAKE}",
        ),
        Criterion(
            criterion="deploy context recorded",
            passed=bool(deploys),
            found=f"{deploys} deploy(s) of {ctx.inc.service} on record",
        ),
        Criterion(
            criterion="rollback mechanism configured",
            passed=bool(options),
            found=", ".join(options) or f"no rollback_options for {ctx.inc.service}",
        ),
    ]


def _upstream(kernel: Kernel) -> list[str]:
    """The earlier stages' artifacts: used when there, listed either way, never required."""
    inputs = find_inputs(kernel.settings.base_dir)
    found = [name for name, path in inputs.items() if path is not None]
    missing = [name for name, path in inputs.items() if path is None]
    return [
        f"upstream inputs found: {', '.join(found) or 'none'}",
        f"upstream inputs missing (optional): {', '.join(missing) or 'none'}",
    ]


def _stakeholders_notified(ctx: _Context) -> tuple[bool, str]:
    """Whether a message to a stakeholder audience was delivered (the outbox's results).

    A workspace whose channels reach no stakeholder audience counts any delivered message,
    and says so.
    """
    with ctx.kernel.store.session() as session:
        sent = dict(
            session.execute(
                select(Notification.audience, func.count())
                .where(Notification.incident_id == ctx.inc.id, Notification.status == "sent")
                .group_by(Notification.audience)
            ).all()
        )
    configured = set(audiences_of(ctx.kernel.settings.notifications))
    counted = STAKEHOLDER_AUDIENCES & configured or configured
    delivered = sum(n for audience, n in sent.items() if audience in counted)
    which = ", ".join(sorted(counted)) or "none configured"
    note = "" if STAKEHOLDER_AUDIENCES & configured else " (no stakeholder audience configured)"
    return delivered > 0, f"{delivered} message(s) delivered to {which}{note}"


def _gate1(ctx: _Context) -> list[Criterion]:
    severity = _read_json(ctx.folder, SEVERITY)
    confirmed = bool(severity and severity.get("confirmed"))
    confirmation = (severity or {}).get("confirmation") or {}
    answered = _parse_time(confirmation.get("answered_at"))
    # The seeds' "within 5 minutes of detection": the clock starts at the first signal.
    start = ctx.inc.first_signal_at or ctx.inc.detected_at
    delay = (answered - start).total_seconds() / 60 if answered else None
    notified, found = _stakeholders_notified(ctx)
    intake = (
        (ctx.folder / INTAKE).read_text(encoding="utf-8") if (ctx.folder / INTAKE).is_file() else ""
    )
    return [
        Criterion(
            criterion="severity classified and confirmed",
            passed=confirmed,
            found=f"{SEVERITY}: severity {(severity or {}).get('severity')}, confirmed {confirmed}"
            if severity
            else f"{SEVERITY} missing",
        ),
        Criterion(
            criterion=f"confirmed within {ctx.sla:g} min of the first signal",
            passed=delay is not None and delay <= ctx.sla,
            found=f"confirmed after {delay:.2f} min" if delay is not None else "not confirmed",
        ),
        Criterion(criterion="stakeholders notified", passed=notified, found=found),
        Criterion(
            criterion="intake log complete",
            passed="## Signals taken in" in intake and "### " in intake,
            found=f"{INTAKE} {'present' if intake else 'missing'}",
        ),
    ]


def _gate2(ctx: _Context) -> list[Criterion]:
    readiness = _read_json(ctx.folder, READINESS) or {}
    ready = set(readiness.get("ready_options", []))
    items = [i for i in readiness.get("items", []) if i.get("option") in ready or "option" not in i]
    decisions = (_read_json(ctx.folder, DECISIONS) or {}).get("decisions", [])
    approved = {d["id"] for d in decisions if d["kind"] == "mitigation" and d["answer"] == "yes"}
    executions = (_read_json(ctx.folder, EXECUTION) or {}).get("executions", [])
    unapproved = [e["option"] for e in executions if e["approved_by_decision"] not in approved]
    return [
        Criterion(
            criterion="mitigation plan written",
            passed=(ctx.folder / PLAN).is_file(),
            found=f"{PLAN} {'present' if (ctx.folder / PLAN).is_file() else 'missing'}",
        ),
        Criterion(
            criterion="every prerequisite verified",
            passed=bool(readiness.get("passed")) and all(i["passed"] for i in items),
            found=f"{sum(i['passed'] for i in items)}/{len(items)} met"
            if readiness
            else f"{READINESS} missing",
        ),
        Criterion(
            criterion="decision recorded",
            passed=bool(approved),
            found=f"{len(approved)} approved mitigation decision(s) in {DECISIONS}",
        ),
        Criterion(
            criterion="every executed action approved",
            passed=not unapproved,
            found="all approved" if not unapproved else f"unapproved: {', '.join(unapproved)}",
        ),
    ]


def _gate3(ctx: _Context) -> list[Criterion]:
    execution = _read_json(ctx.folder, EXECUTION) or {}
    validation = _read_json(ctx.folder, VALIDATION) or {}
    latest = (validation.get("attempts") or [{}])[-1]
    rate = latest.get("critical_pass_rate")
    lines = []
    if (ctx.folder / TIMELINE).is_file():
        lines = [
            m
            for m in (
                LINE_PATTERN.match(x)
                for x in (ctx.folder / TIMELINE).read_text(encoding="utf-8").splitlines()
            )
            if m
        ]
    last_file = lines[-1]["hash"] if lines else None
    last_db = ctx.record.events[-1].hash if ctx.record.events else None
    return [
        Criterion(
            criterion="mitigation executed successfully",
            passed=bool(execution.get("succeeded")),
            found=f"{len(execution.get('executions', []))} execution(s), succeeded "
            f"{bool(execution.get('succeeded'))}"
            if execution
            else f"{EXECUTION} missing",
        ),
        Criterion(
            criterion=f"critical checks passing >= {ctx.threshold * 100:g}%",
            passed=rate is not None and rate >= ctx.threshold,
            found=f"{rate * 100:.1f}% over {latest.get('critical_samples')} samples"
            if rate is not None
            else f"{VALIDATION} missing",
        ),
        Criterion(
            criterion="incident timeline current",
            passed=last_file is not None and last_file == last_db,
            found=f"{len(lines)} line(s); last hash matches the store: {last_file == last_db}",
        ),
    ]


def _gate4(ctx: _Context) -> list[Criterion]:
    summary = _read_json(ctx.folder, RESOLUTION) or {}
    manifest = _read_json(ctx.folder, RCA_MANIFEST) or {}
    bad = [
        f["path"]
        for f in manifest.get("files", [])
        if not (ctx.folder / f["path"]).is_file()
        or sha256_file(ctx.folder / f["path"]) != f["sha256"]
    ]
    sections = report_sections(ctx.record)
    completeness = sum(sections.values()) / len(sections)
    missing = [name for name, ok in sections.items() if not ok]
    report = ctx.folder / REPORT
    with ctx.kernel.store.session() as session:
        actions = actions_of(session, ctx.inc.id)
    review = review_criteria(
        ctx.record,
        ctx.kernel.settings,
        actions,
        report.read_text(encoding="utf-8") if report.is_file() else None,
        utcnow().date(),
    )
    return [
        Criterion(
            criterion="resolution summary recorded",
            passed=bool(summary.get("resolution")),
            found=f"{RESOLUTION}: {summary.get('resolution')}"
            if summary
            else f"{RESOLUTION} missing",
        ),
        Criterion(
            criterion="root cause inputs archived",
            passed=bool(manifest.get("files")) and not bad,
            found=f"{len(manifest.get('files', []))} file(s) in {RCA_MANIFEST}"
            + (f"; mismatched: {', '.join(bad)}" if bad else "")
            if manifest
            else f"{RCA_MANIFEST} missing",
        ),
        Criterion(
            criterion=f"report complete >= {ctx.threshold * 100:g}%",
            passed=(ctx.folder / REPORT).is_file() and completeness >= ctx.threshold,
            found=f"{REPORT} {'present' if (ctx.folder / REPORT).is_file() else 'missing'}, "
            f"{completeness * 100:.0f}% complete"
            + (f" (no data: {', '.join(missing)})" if missing else ""),
        ),
        Criterion(
            criterion="stakeholders informed",
            passed=bool(summary.get("stakeholders_informed")),
            found=f"stakeholders_informed: {summary.get('stakeholders_informed')}",
        ),
        *(Criterion(criterion=c, passed=ok, found=found) for c, ok, found in review),
    ]


class _Context:
    def __init__(
        self, record: IncidentRecord, kernel: Kernel, sla: float, threshold: float
    ) -> None:
        self.record = record
        self.inc = record.incident
        self.kernel = kernel
        self.folder = kernel.evidence.path(record.incident.id)
        self.sla = sla
        self.threshold = threshold


_CHECKS = {"prerequisites": _prerequisites, "1": _gate1, "2": _gate2, "3": _gate3, "4": _gate4}


def run_gate(
    gate: str,
    record: IncidentRecord,
    kernel: Kernel,
    *,
    sla_minutes: float | None = None,
    threshold: float | None = None,
) -> GateResult:
    """Evaluate one gate over the incident's evidence."""
    if gate not in _CHECKS:
        raise InvalidInput(f"unknown gate {gate!r} (one of: {', '.join(GATES)}, all)")
    sla = (
        sla_minutes
        if sla_minutes is not None
        else kernel.settings.severity.confirmation_sla_minutes
    )
    limit = threshold if threshold is not None else kernel.settings.validation.threshold
    criteria = _CHECKS[gate](_Context(record, kernel, sla, limit))
    failed = [c for c in criteria if not c.passed]
    return GateResult(
        gate=gate,
        title=TITLES[gate],
        passed=not failed,
        criteria=criteria,
        found="; ".join(f"{c.criterion}: {c.found}" for c in failed) or "all criteria met",
        next_step="" if not failed else NEXT_STEP[gate],
        notes=_upstream(kernel) if gate == "prerequisites" else [],
    )


def run_gates(
    gate: str, record: IncidentRecord, kernel: Kernel, **kwargs: float | None
) -> list[GateResult]:
    """One gate, or every gate in order for ``all``."""
    names = GATES if gate == "all" else (gate,)
    return [run_gate(name, record, kernel, **kwargs) for name in names]
