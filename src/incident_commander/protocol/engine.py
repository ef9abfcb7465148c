"""The engine: the facade every door calls, one method per protocol step, on the kernel."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from incident_commander.clock import utcnow
from incident_commander.config import ApprovalKind, Settings
from incident_commander.evidence.inputs import Gathered
from incident_commander.evidence.record import load_record
from incident_commander.evidence.verify import Verification, verify
from incident_commander.protocol import driver
from incident_commander.protocol.driver import RunOutcome
from incident_commander.protocol.gates import GateResult, run_gate, run_gates
from incident_commander.protocol.kernel import EventListener, Kernel
from incident_commander.protocol.postmortem import (
    Blame,
    PostmortemState,
    blame_of,
    postmortem_state,
    write_report,
    write_retro,
)
from incident_commander.protocol.severity import Answers
from incident_commander.protocol.steps import (
    approve,
    assess,
    cadence,
    declare,
    evidence_inputs,
    execute,
    follow_up,
    inform,
    monitor,
    plan,
    preflight,
    resolve,
    validate,
)
from incident_commander.protocol.steps.execute import ExecutionOutcome
from incident_commander.protocol.steps.review import (
    Review,
    blame_findings,
    record_review,
    waive_blame,
)
from incident_commander.reports.report import REPORT
from incident_commander.store.action_items import action_dict, actions_of, is_overdue
from incident_commander.store.db import Store
from incident_commander.store.models import ActionItem, Alert, Decision, Deploy, Incident

__all__ = ["Engine", "EventListener"]


class Engine(Kernel):
    """The facade every door calls: each step of the protocol, one transaction each.

    Steps live in their own modules and work on the kernel; this class only forwards to them,
    plus the read-only queries the doors need.
    """

    def __init__(
        self, settings: Settings, store: Store, *, on_event: EventListener | None = None
    ) -> None:
        super().__init__(settings, store, on_event=on_event)
        self.diagnostics = evidence_inputs.Background(self)
        told = self.on_event

        def tell(incident_id: str, kind: str, text: str) -> None:
            if kind == "status" and "→ executing" in text:  # the mitigation has started
                self.diagnostics.release(incident_id)
            told(incident_id, kind, text)

        self.on_event = tell

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

    def alerts_of(self, incident_id: str) -> list[Alert]:
        """The alerts that opened or joined an incident, oldest first."""
        with self.store.session() as session:
            return list(
                session.scalars(
                    select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id)
                )
            )

    # -- the steps; each lives in its own module ---------------------------------------------

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
        return declare.record_deploy(
            self,
            service=service,
            version=version,
            commit=commit,
            deployed_by=deployed_by,
            deployed_at=deployed_at,
        )

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
        """Open an incident from a signal; returns its id (phase 1)."""
        declaration = declare.Declaration(
            title=title,
            service=service,
            source=source,
            detected_by=detected_by,
            symptoms=symptoms or [],
            first_signal_at=first_signal_at,
            details=details or {},
        )
        return declare.declare(self, declaration)

    def assess(self, incident_id: str, answers: Answers, *, assessed_by: str) -> str:
        """Classify severity from recorded answers, notify, ask for confirmation (phase 1)."""
        return assess.assess(self, incident_id, answers, assessed_by=assessed_by)

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
        return approve.answer(
            self, incident_id, yes=yes, approver=approver, rationale=rationale, kind=kind
        )

    def pending_prompt(self, incident_id: str) -> str | None:
        """The text of the approval the incident waits for, if any."""
        return approve.pending_prompt(self, incident_id)

    def plan(
        self,
        incident_id: str,
        *,
        root_cause_known: bool = False,
        fix_minutes: float | None = None,
        option: str | None = None,
        chosen_by: str | None = None,
        fix_version: str | None = None,
    ) -> dict[str, Any]:
        """Write the mitigation plan, check readiness, and ask for approval, or halt (phase 2)."""
        return plan.plan(
            self,
            incident_id,
            root_cause_known=root_cause_known,
            fix_minutes=fix_minutes,
            option=option,
            chosen_by=chosen_by,
            fix_version=fix_version,
        )

    def expire_approvals(self) -> list[str]:
        """Take the expiry path of every approval past its deadline; the incidents touched."""
        return approve.expire_due(self)

    def monitor_due(self) -> list[dict[str, Any]]:
        """Run every extended-monitoring checkpoint due now (phase 4); what each found."""
        return monitor.run_due(self)

    def remind_updates(self) -> list[str]:
        """Remind the responders of every open incident whose status update is overdue."""
        return cadence.remind_due(self)

    def executors(self) -> list[dict[str, Any]]:
        """Every installed executor, what it does and what it needs."""
        return preflight.installed_executors()

    def check_options(self, service: str | None = None) -> list[dict[str, Any]]:
        """The readiness of every configured option now, without an incident."""
        return preflight.preflight(self, service)

    def execute(self, incident_id: str) -> ExecutionOutcome:
        """Run the approved plan, trying each next option when one fails (phase 3)."""
        return execute.execute(self, incident_id)

    def validate(self, incident_id: str) -> dict[str, Any]:
        """Validate recovery over the configured window (phase 3)."""
        return validate.validate(self, incident_id)

    def close(self, incident_id: str, *, closed_by: str) -> None:
        """Close a resolved incident once gate 4 passes (phase 4)."""
        resolve.close(self, incident_id, closed_by=closed_by)

    def dismiss(
        self, incident_id: str, *, reason: str, dismissed_by: str, by_person: bool = False
    ) -> None:
        """Record the incident as a false positive (a person may dismiss a halted one too)."""
        resolve.dismiss(
            self, incident_id, reason=reason, dismissed_by=dismissed_by, by_person=by_person
        )

    def announce(
        self,
        incident_id: str,
        *,
        audience: str,
        text: str,
        public: bool,
        by: str,
        wait_s: float = 30,
    ) -> list[inform.Delivered]:
        """Send a manual update to one audience; wait at most ``wait_s`` for its delivery."""
        ids = inform.announce(self, incident_id, audience=audience, text=text, public=public, by=by)
        self.outbox.flush(wait_s)
        return inform.deliveries(self, ids)

    def record_review(self, incident_id: str, review: Review, *, recorded_by: str) -> None:
        """Record what the post-incident review found (root cause, 5 Whys, actions)."""
        record_review(self, incident_id, review, recorded_by=recorded_by)

    def blame(self, incident_id: str) -> list[Blame]:
        """The blameless check of the review and the report, as it stands now."""
        return blame_findings(self, incident_id)

    def waive_blame(self, incident_id: str, n: int, *, reason: str, by: str) -> Blame:
        """Waive blame finding ``n`` with a reason, recorded on the timeline."""
        return waive_blame(self, incident_id, n, reason=reason, by=by)

    def add_action(
        self,
        incident_id: str,
        *,
        title: str,
        owner: str,
        due: date,
        kind: str = "prevention",
        priority: str = "medium",
        by: str,
    ) -> int:
        """Add an action item to an incident; its number."""
        return follow_up.add_action(
            self,
            incident_id,
            title=title,
            owner=owner,
            due=due,
            kind=kind,
            priority=priority,
            by=by,
        )

    def finish_action(self, n: int, *, note: str | None, by: str) -> dict[str, Any]:
        """Mark action item ``n`` done; the item as listed."""
        item = follow_up.finish_action(self, n, note=note, by=by)
        return action_dict(item, utcnow().date())

    def actions(
        self,
        incident_id: str | None = None,
        *,
        owner: str | None = None,
        overdue: bool = False,
    ) -> list[dict[str, Any]]:
        """Action items, oldest first: of one incident or all, by owner, only the overdue."""
        today = utcnow().date()
        statement = select(ActionItem).order_by(ActionItem.id)
        with self.store.session() as session:
            if incident_id is not None:
                self.load(session, incident_id, lock=False)
                statement = statement.where(ActionItem.incident_id == incident_id)
            if owner is not None:
                statement = statement.where(ActionItem.owner == owner)
            items = list(session.scalars(statement))
            return [action_dict(i, today) for i in items if not overdue or is_overdue(i, today)]

    def remind_overdue(self) -> list[str]:
        """Remind overdue action items (once a day) and overdue post-mortems (once)."""
        return follow_up.remind_overdue(self)

    def postmortem_state(self, incident_id: str) -> PostmortemState:
        """Whether the post-mortem is required, when it is due, how far it has got."""
        with self.store.session() as session:
            inc = self.load(session, incident_id, lock=False)
            actions = actions_of(session, incident_id)
            return postmortem_state(inc, self.settings, actions, utcnow().date())

    def retro(self, incident_id: str) -> Path:
        """Write ``retrospective.md`` into the incident folder; its path."""
        gates = [g.model_dump() for g in run_gates("all", self.record(incident_id), self)]
        today = utcnow().date()
        report = self.evidence.path(incident_id) / REPORT
        text = report.read_text(encoding="utf-8") if report.is_file() else None
        with self.store.session() as session:
            record = load_record(session, self.load(session, incident_id))
            actions = actions_of(session, incident_id)
            context = {
                "gates": gates,
                "actions": [action_dict(a, today) for a in actions],
                "blame": [b.as_dict() for b in blame_of(record, self.settings, actions, text)],
                "postmortem": postmortem_state(
                    record.incident, self.settings, actions, today
                ).as_dict(),
            }
            name = write_retro(self.evidence, session, record, context)
        return self.evidence.path(incident_id) / name

    def report(self, incident_id: str) -> Path:
        """(Re)write INCIDENT-REPORT.md from the record; return its path."""
        with self.store.session() as session:
            record = load_record(session, self.load(session, incident_id))
            write_report(self.evidence, self.settings, session, record)
        return self.evidence.path(incident_id) / REPORT

    def gate(self, incident_id: str, gate: str) -> GateResult:
        """Evaluate one quality gate over the incident's evidence as it stands now."""
        return run_gate(gate, self.record(incident_id), self)

    def verify(self, incident_id: str) -> Verification:
        """Recompute the timeline chain and every recorded artifact hash."""
        with self.store.session() as session:
            record = load_record(session, self.load(session, incident_id, lock=False))
            return verify(session, self.evidence, record)

    def add_evidence(
        self, incident_id: str, inputs: list[Gathered], *, added_by: str
    ) -> list[dict[str, Any]]:
        """Archive root-cause inputs, each sealed by a timeline event; their manifest entries."""
        return evidence_inputs.add_inputs(self, incident_id, inputs, added_by=added_by)

    def diagnose(self, incident_id: str, *, by: str) -> list[dict[str, Any]]:
        """Run the service's diagnostics now and archive each output as a receipt."""
        return evidence_inputs.diagnose(self, incident_id, by=by)

    def diagnose_in_background(self, incident_id: str, *, hold: bool = False) -> bool:
        """Start the incident's diagnostics in a thread, once; the caller goes on at once.

        With ``hold``, they start only once the drive of the incident (``run``) has started the
        mitigation or stopped, never competing with the steps that lead to it.
        """
        return self.diagnostics.start(incident_id, hold=hold)

    def run(self, incident_id: str) -> RunOutcome:
        """Drive the incident as far as approvals and policies allow.

        Diagnostics not gathered yet run beside it, in the background, from the moment the
        mitigation starts or the drive stops (for a person, a halt), so they never hold it up.
        """
        self.diagnostics.start(incident_id, hold=True)
        try:
            return driver.run(self, incident_id)
        finally:
            self.diagnostics.release(incident_id)
