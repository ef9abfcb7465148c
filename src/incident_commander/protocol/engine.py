"""The engine: every step of the protocol, behind one service layer that all doors call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incident_commander.clock import isoformat, utcnow
from incident_commander.config import ApprovalKind, Settings
from incident_commander.errors import (
    ApprovalNotPending,
    IncidentNotFound,
    InvalidInput,
    TransitionRejected,
)
from incident_commander.evidence.folder import EvidenceFolder
from incident_commander.evidence.record import IncidentRecord, load_record
from incident_commander.protocol.journal import APPROVAL_LABEL, Journal, phase_complete, phase_start
from incident_commander.protocol.severity import Answers, classify
from incident_commander.protocol.states import Facts, Status, judge
from incident_commander.store.db import Store
from incident_commander.store.models import Decision, Deploy, Execution, Incident

if TYPE_CHECKING:
    from incident_commander.protocol.execution import ExecutionOutcome

__all__ = ["SOURCES", "Engine", "EventListener"]

SOURCES = (
    "monitoring-alert",
    "user-report",
    "failed-run",
    "audit",
    "routine-check",
    "health-probe",
)

EventListener = Callable[[str, str], None]


def bounded(what: str, value: str | None, limit: int) -> str | None:
    """``value`` stripped, or a clear error when it is longer than its column allows."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {limit} are allowed")
    return value


class Engine:
    """The protocol's steps. Each step is one transaction; evidence is written after commit."""

    def __init__(
        self, settings: Settings, store: Store, *, on_event: EventListener | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.evidence = EvidenceFolder(settings)
        self.on_event: EventListener = on_event or (lambda kind, text: None)

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Journal]:
        """A step: commit the store, then tell listeners and bring the evidence up to date."""
        with self.store.session() as session:
            journal = Journal(session, self.settings)
            yield journal
        for kind, text in journal.emitted:
            self.on_event(kind, text)
        for incident_id in sorted(journal.touched):
            self.sync(incident_id, postmortem=incident_id in journal.postmortem)

    def load(self, session: Session, incident_id: str, *, lock: bool = True) -> Incident:
        """The incident row (locked for the step on databases that lock rows)."""
        statement = select(Incident).where(Incident.id == incident_id)
        if lock:
            statement = statement.with_for_update()
        incident = session.scalars(statement).first()
        if incident is None:
            raise IncidentNotFound(
                f"no incident with id {incident_id!r}", hint="`ic list` shows the incidents"
            )
        return incident

    def record(self, incident_id: str) -> IncidentRecord:
        """Everything recorded about one incident."""
        with self.store.session() as session:
            return load_record(session, self.load(session, incident_id, lock=False))

    def list_incidents(
        self, *, status: str | None = None, service: str | None = None, severity: str | None = None
    ) -> list[Incident]:
        """Incidents, newest first, optionally filtered."""
        statement = select(Incident).order_by(Incident.detected_at.desc())
        if status:
            statement = statement.where(Incident.status == status)
        if service:
            statement = statement.where(Incident.service == service)
        if severity:
            statement = statement.where(Incident.severity == severity)
        with self.store.session() as session:
            return list(session.scalars(statement))

    def sync(self, incident_id: str, *, postmortem: bool = False) -> None:
        """Re-render the incident folder from the store (also the crash-recovery path)."""
        from incident_commander.protocol.postmortem import write_postmortem, write_report

        with self.store.session() as session:
            record = load_record(session, self.load(session, incident_id, lock=False))
            self.evidence.sync(session, record)
            if postmortem:
                write_postmortem(self, session, record)
            if record.incident.resolution:
                write_report(self, session, record)

    def facts(self, session: Session, inc: Incident) -> Facts:
        """What the move table needs to know about ``inc`` now."""
        decisions = list(
            session.scalars(
                select(Decision).where(Decision.incident_id == inc.id).order_by(Decision.id)
            )
        )

        def approved(kind: str) -> bool:
            latest = [d for d in decisions if d.kind == kind and d.answer is not None]
            return bool(latest) and latest[-1].answer == "yes"

        succeeded = session.scalar(
            select(func.count())
            .select_from(Execution)
            .where(Execution.incident_id == inc.id, Execution.status == "succeeded")
        )
        attempts = (inc.validation or {}).get("attempts") or []
        return Facts(
            severity_assessed=inc.assessment is not None,
            severity_confirmed=inc.severity_confirmed,
            plan_written=bool(inc.plan),
            readiness_passed=bool(inc.readiness and inc.readiness.get("passed")),
            mitigation_approved=approved("mitigation"),
            execution_succeeded=bool(succeeded),
            validation_passed=bool(attempts) and attempts[-1]["verdict"] == "passed",
            resolution_confirmed=approved("resolution"),
            documentation_complete=bool(inc.resolution),
        )

    def move(self, journal: Journal, inc: Incident, target: Status, reason: str) -> None:
        """The one way a status changes: check the table, record the move, or refuse."""
        current = Status(inc.status)
        resume = Status(inc.resume_status) if inc.resume_status else None
        verdict = judge(current, target, self.facts(journal.session, inc), resume_status=resume)
        if not verdict.accepted:
            raise TransitionRejected(f"{inc.id}: {verdict.reason}")
        if target == Status.HALTED:
            inc.resume_status = current.value
            inc.halt_reason = reason
        elif current == Status.HALTED:
            inc.resume_status = None
            inc.halt_reason = None
        inc.status = target.value
        journal.event(inc, "status", f"{current} → {target}: {reason}")

    def halt(self, journal: Journal, inc: Incident, reason: str) -> None:
        """Stop where we are until the missing input arrives."""
        if inc.status == Status.HALTED:
            inc.halt_reason = reason
            journal.event(inc, "halted", f"still halted: {reason}")
            return
        self.move(journal, inc, Status.HALTED, reason)

    def suspect_deploy(
        self, session: Session, service: str, first_signal: datetime
    ) -> Deploy | None:
        """The latest deploy of ``service`` within the suspect window before the first signal."""
        window = timedelta(minutes=self.settings.suspect_deploy_window_minutes)
        return session.scalars(
            select(Deploy)
            .where(
                Deploy.service == service,
                Deploy.deployed_at <= first_signal,
                Deploy.deployed_at >= first_signal - window,
            )
            .order_by(Deploy.deployed_at.desc(), Deploy.id.desc())
            .limit(1)
        ).first()

    # -- phase 1: detect and assess ------------------------------------------------------------

    def record_deploy(
        self,
        *,
        service: str,
        version: str,
        commit: str | None = None,
        deployed_by: str | None = None,
        deployed_at: datetime | None = None,
    ) -> Deploy:
        """Remember a deployment; it feeds the suspect-deploy rule."""
        if not service.strip() or not version.strip():
            raise InvalidInput("a deploy needs a service and a version")
        service = bounded("the service name", service, 128) or service
        version = bounded("the version", version, 128) or version
        commit = bounded("the commit", commit, 64)
        deployed_by = bounded("deployed by", deployed_by, 200)
        with self.store.session() as session:
            deploy = Deploy(
                service=service,
                version=version,
                commit=commit,
                deployed_by=deployed_by,
                deployed_at=deployed_at or utcnow(),
            )
            session.add(deploy)
        return deploy

    def declare(
        self,
        *,
        title: str,
        service: str,
        source: str,
        detected_by: str,
        symptoms: list[str] | None = None,
        first_signal_at: datetime | None = None,
        details: dict[str, Any] | None = None,
    ) -> str:
        """Open an incident from a signal; returns its id."""
        from incident_commander.store.models import Signal

        if source not in SOURCES:
            raise InvalidInput(f"unknown source {source!r} (one of: {', '.join(SOURCES)})")
        if not title.strip():
            raise InvalidInput("an incident needs a title")
        if not service.strip():
            raise InvalidInput("an incident needs a service")
        service = bounded("the service name", service, 128) or service
        detected_by = bounded("detected by", detected_by, 200) or detected_by
        now = utcnow()
        first = first_signal_at or now
        for _attempt in range(5):
            try:
                with self.transaction() as journal:
                    session = journal.session
                    prefix = f"INC-{now:%Y%m%d}-"
                    taken = session.scalar(
                        select(func.count())
                        .select_from(Incident)
                        .where(Incident.id.like(prefix + "%"))
                    )
                    incident_id = f"{prefix}{(taken or 0) + 1:04d}"
                    suspect = self.suspect_deploy(session, service, first)
                    inc = Incident(
                        id=incident_id,
                        title=title.strip(),
                        service=service,
                        source=source,
                        detected_by=detected_by,
                        symptoms=[s for s in (symptoms or []) if s.strip()],
                        status=Status.DETECTED.value,
                        severity_confirmed=False,
                        suspect_deploy_id=suspect.id if suspect else None,
                        first_signal_at=first,
                        detected_at=now,
                        updated_at=now,
                    )
                    session.add(inc)
                    session.flush()
                    journal.touched.add(inc.id)
                    journal.event(inc, "phase", phase_start(1))
                    session.add(
                        Signal(
                            incident_id=inc.id,
                            at=first,
                            source=source,
                            detected_by=detected_by,
                            summary=title.strip(),
                            details=details or {},
                        )
                    )
                    journal.event(
                        inc,
                        "incident.declared",
                        f"{title.strip()} — service {service}, source {source}, "
                        f"detected by {detected_by}; first signal {isoformat(first)}",
                    )
                    if suspect:
                        journal.event(
                            inc,
                            "deploy.suspect",
                            f"suspect deploy: {suspect.service} {suspect.version} at "
                            f"{isoformat(suspect.deployed_at)}",
                            {"deploy_id": suspect.id},
                        )
                return incident_id
            except IntegrityError:
                continue
        raise TransitionRejected("could not allocate an incident id; try again")

    def assess(self, incident_id: str, answers: Answers, *, assessed_by: str) -> str:
        """Classify severity from recorded answers, notify, and ask for confirmation."""
        with self.transaction() as journal:
            inc = self.load(journal.session, incident_id)
            if inc.severity_confirmed:
                raise TransitionRejected(
                    f"{inc.id}: severity {inc.severity} is already confirmed; it is raised "
                    "by the engine when recovery fails"
                )
            if inc.pending_approval == "severity":
                raise TransitionRejected(
                    f"{inc.id}: severity {inc.severity} awaits confirmation; answer it first "
                    "(`ic approve` --yes or --no)"
                )
            result = classify(answers, self.settings.scheme)
            history = list((inc.assessment or {}).get("history", []))
            if inc.severity and inc.severity != result.severity:
                history.append(
                    {
                        "from": inc.severity,
                        "to": result.severity,
                        "at": isoformat(utcnow()),
                        "reason": f"reassessed by {assessed_by}",
                    }
                )
            inc.assessment = {
                "answers": answers.model_dump(mode="json"),
                "path": result.path,
                "assessed_by": assessed_by,
                "assessed_at": isoformat(utcnow()),
                "history": history,
            }
            inc.severity = result.severity
            journal.event(inc, "progress", "Assessing incident severity and affected services...")
            journal.event(
                inc,
                "severity.assessed",
                f"classified {result.severity} by {assessed_by}: {' → '.join(result.path)}",
            )
            if inc.status != Status.TRIAGED:
                self.move(journal, inc, Status.TRIAGED, f"severity assessed as {inc.severity}")
            level = self.settings.scheme.level(inc.severity)
            journal.notify(
                inc,
                f"[{inc.severity}] {inc.service}: {inc.title} ({inc.id})",
                f"Incident {inc.id} on {inc.service} classified {inc.severity} ({level.meaning}); "
                f"response target: {level.response}. Status: {inc.status}. "
                f"Symptoms: {'; '.join(inc.symptoms) or 'none recorded'}.",
            )
            self._ask_severity(journal, inc)
            return result.severity

    def _suspect(self, session: Session, inc: Incident) -> Deploy | None:
        return session.get(Deploy, inc.suspect_deploy_id) if inc.suspect_deploy_id else None

    def _ask_severity(self, journal: Journal, inc: Incident) -> None:
        assert inc.severity is not None
        decision, policy = journal.ask(
            inc, "severity", inc.severity, suspect=self._suspect(journal.session, inc)
        )
        if policy:
            self._apply_answer(
                journal,
                inc,
                decision,
                True,
                f"policy:{policy}",
                "policy",
                f"policy {policy} approves {inc.severity} for {inc.service}",
            )

    # -- approvals -----------------------------------------------------------------------------

    def answer(
        self,
        incident_id: str,
        *,
        yes: bool,
        approver: str,
        rationale: str = "",
        kind: ApprovalKind | None = None,
    ) -> Decision:
        """A person answers the pending approval (or the one named by ``kind``)."""
        if not approver.strip():
            raise InvalidInput("an answer needs the name of who gives it (--as NAME)")
        approver = bounded("the approver's name", approver, 200) or approver
        with self.transaction() as journal:
            inc = self.load(journal.session, incident_id)
            pending = inc.pending_approval
            if pending is None or (kind is not None and kind != pending):
                asked = APPROVAL_LABEL[kind] if kind else "approval"
                now = APPROVAL_LABEL[pending] if pending else "nothing"
                raise ApprovalNotPending(
                    f"{inc.id}: no {asked} is pending (status {inc.status}; pending: {now})"
                )
            decision = journal.session.scalars(
                select(Decision)
                .where(
                    Decision.incident_id == inc.id,
                    Decision.kind == pending,
                    Decision.answer.is_(None),
                )
                .order_by(Decision.id.desc())
            ).first()
            assert decision is not None
            self._apply_answer(journal, inc, decision, yes, approver.strip(), "person", rationale)
            return decision

    def pending_prompt(self, incident_id: str) -> str | None:
        """The text of the approval the incident waits for, if any."""
        with self.store.session() as session:
            inc = self.load(session, incident_id, lock=False)
            if not inc.pending_approval:
                return None
            decision = session.scalars(
                select(Decision)
                .where(Decision.incident_id == inc.id, Decision.answer.is_(None))
                .order_by(Decision.id.desc())
            ).first()
            return decision.prompt if decision else None

    def _apply_answer(
        self,
        journal: Journal,
        inc: Incident,
        decision: Decision,
        yes: bool,
        approver: str,
        approver_type: str,
        rationale: str,
    ) -> None:
        from incident_commander.protocol import steps

        journal.record_answer(
            inc, decision, yes=yes, approver=approver, kind=approver_type, why=rationale
        )
        if decision.kind == "severity":
            if yes:
                inc.severity_confirmed = True
                inc.acknowledged_at = decision.answered_at
                self.move(journal, inc, Status.PLANNING, f"severity {inc.severity} confirmed")
                journal.event(inc, "phase", phase_complete(1))
                journal.event(inc, "phase", phase_start(2))
            else:
                journal.event(
                    inc,
                    "alert",
                    "[ALERT] Potential false-positive detected. Incident severity not confirmed.",
                )
        elif decision.kind == "mitigation":
            if not yes:
                self.move(journal, inc, Status.PLANNING, f"mitigation declined by {approver}")
        elif yes:
            steps.resolve(self, journal, inc, approver)
        else:
            journal.event(inc, "progress", "resolution not confirmed; the incident stays open")

    # -- phases 2 to 4 live in steps.py; the driver in driver.py -------------------------------

    def plan(
        self,
        incident_id: str,
        *,
        root_cause_known: bool = False,
        fix_minutes: float | None = None,
        option: str | None = None,
        chosen_by: str | None = None,
    ) -> dict[str, Any]:
        """Write the mitigation plan, check readiness, and ask for approval (or halt)."""
        from incident_commander.protocol import steps

        return steps.plan(
            self,
            incident_id,
            root_cause_known=root_cause_known,
            fix_minutes=fix_minutes,
            option=option,
            chosen_by=chosen_by,
        )

    def execute(self, incident_id: str) -> ExecutionOutcome:
        """Run the approved plan, trying each next option when one fails."""
        from incident_commander.protocol import execution

        return execution.execute(self, incident_id)

    def validate(self, incident_id: str) -> dict[str, Any]:
        """Validate recovery over the configured window."""
        from incident_commander.protocol import steps

        return steps.validate(self, incident_id)

    def close(self, incident_id: str, *, closed_by: str) -> None:
        """Close a resolved incident once gate 4 passes."""
        from incident_commander.protocol import steps

        steps.close(self, incident_id, closed_by=closed_by)

    def dismiss(self, incident_id: str, *, reason: str, dismissed_by: str) -> None:
        """Record the incident as a false positive."""
        from incident_commander.protocol import steps

        steps.dismiss(self, incident_id, reason=reason, dismissed_by=dismissed_by)

    def run(self, incident_id: str) -> Any:
        """Drive the incident as far as approvals and policies allow."""
        from incident_commander.protocol import driver

        return driver.run(self, incident_id)
