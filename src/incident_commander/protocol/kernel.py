"""The kernel every protocol step stands on: one transaction per step, the incident row, the
facts the move table asks for, the one way a status changes, and what happens after a commit.

Steps import this module only; nothing here imports a step or the facade (``engine.py``), so
the steps form a layer above the kernel with no way back into the doors' entry point.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incident_commander.config import Settings
from incident_commander.errors import IncidentNotFound, TransitionRejected
from incident_commander.evidence.folder import EvidenceFolder
from incident_commander.evidence.record import IncidentRecord, load_record
from incident_commander.executors.base import ExecutionStatus
from incident_commander.notify.messages import MessageKind
from incident_commander.protocol.checkpoints import cancel_remaining
from incident_commander.protocol.journal import Journal
from incident_commander.protocol.outbox import Outbox
from incident_commander.protocol.postmortem import write_postmortem, write_report
from incident_commander.protocol.states import Facts, Status, judge
from incident_commander.store.db import Store
from incident_commander.store.models import Decision, Deploy, Execution, Incident
from incident_commander.store.state import validation_of

__all__ = ["EventListener", "Kernel"]

EventListener = Callable[[str, str, str], None]
"""Told of each timeline event once committed: (incident id, kind, text)."""


class Kernel:
    """Transaction, load, facts, move, halt: what each step of the protocol works with.

    Each step is one transaction; its messages go out and its evidence is written after the
    commit.
    """

    def __init__(
        self, settings: Settings, store: Store, *, on_event: EventListener | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.evidence = EvidenceFolder(settings)
        self.on_event: EventListener = on_event or (lambda incident_id, kind, text: None)
        self.outbox = Outbox(self)
        # While the driver takes step after step, evidence is rendered behind it (``behind``).
        self._deferring: int | None = None  # the thread whose renders wait
        self._pending: dict[str, bool] = {}  # incident id → with its post-mortem
        self._pending_lock = threading.Lock()
        self.steps_idle = threading.Event()
        """Clear while steps are taken one after another (``deferred_rendering``), set while
        they pause (``behind``) and otherwise: what a delivery's record waits for."""
        self.steps_idle.set()

    @contextmanager
    def transaction(self, *, sync: bool = True) -> Iterator[Journal]:
        """A step: commit the store, then tell listeners and bring the evidence up to date.

        With ``sync=False`` the caller brings the evidence of ``journal.touched`` up to date.
        """
        with self.store.session() as session:
            journal = Journal(session, self.settings)
            yield journal
        # Committed: now the messages the step queued may go out (never from inside it).
        self.outbox.submit(journal.queued)
        for incident_id, kind, text in journal.emitted:
            self.on_event(incident_id, kind, text)
        if not sync:
            return
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

    def record(self, incident_id: str, *, timeline: bool = True) -> IncidentRecord:
        """Everything recorded about one incident (without events and messages unless
        ``timeline``)."""
        with self.store.session() as session:
            inc = self.load(session, incident_id, lock=False)
            return load_record(session, inc, timeline=timeline)

    def sync(self, incident_id: str, *, postmortem: bool = False) -> None:
        """Re-render the incident folder from the store (also the crash-recovery path).

        Inside ``deferred_rendering`` (on its thread) the render waits for ``behind`` or the
        block's end instead.
        """
        if self._deferring == threading.get_ident():
            with self._pending_lock:
                self._pending[incident_id] = self._pending.get(incident_id, False) or postmortem
            return
        self._render(incident_id, postmortem=postmortem)

    @contextmanager
    def deferred_rendering(self) -> Iterator[None]:
        """Steps taken one after another here leave their rendering for later: the folder is
        brought up to date while a slow part runs (``behind``) and when the block ends.

        Only the thread that entered defers; the store is the record meanwhile, and a crash
        before the render is repaired by the next sync (each file is rewritten from the store).
        """
        with self._pending_lock:
            taken = self._deferring is not None  # nested, or another thread's drive: it renders
            if not taken:
                self._deferring = threading.get_ident()
        if taken:
            yield
            return
        self.steps_idle.clear()
        try:
            yield
        finally:
            self._deferring = None
            self.steps_idle.set()
            self._render_pending()

    @contextmanager
    def behind(self) -> Iterator[None]:
        """Around a slow part of a step (a command, a validation window): render the folders
        left pending meanwhile, on another thread, and let sent messages be recorded; both done
        when the block ends."""
        with self._pending_lock:
            waiting = bool(self._pending)
        renderer = threading.Thread(target=self._render_pending, name="ic-render", daemon=True)
        if waiting:
            renderer.start()
        hot = not self.steps_idle.is_set()
        self.steps_idle.set()
        try:
            yield
        finally:
            if hot and self._deferring is not None:
                self.steps_idle.clear()
            if waiting:
                renderer.join()

    def _render_pending(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for incident_id, postmortem in sorted(pending.items()):
            self._render(incident_id, postmortem=postmortem)

    def _render(self, incident_id: str, *, postmortem: bool) -> None:
        with self.store.session() as session:
            record = load_record(session, self.load(session, incident_id))
            self.evidence.sync(session, record)
            if postmortem:
                write_postmortem(self.evidence, session, record)
            if record.incident.resolution:
                write_report(self.evidence, self.settings, session, record)

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
            .where(
                Execution.incident_id == inc.id, Execution.status == ExecutionStatus.SUCCEEDED.value
            )
        )
        return Facts(
            severity_assessed=inc.assessment is not None,
            severity_confirmed=inc.severity_confirmed,
            plan_written=bool(inc.plan),
            readiness_passed=bool(inc.readiness and inc.readiness.get("passed")),
            mitigation_approved=approved("mitigation"),
            execution_succeeded=bool(succeeded),
            validation_passed=validation_of(inc).passed,
            resolution_confirmed=approved("resolution"),
            documentation_complete=bool(inc.resolution),
        )

    def move(
        self,
        journal: Journal,
        inc: Incident,
        target: Status,
        reason: str,
        *,
        by_person: bool = False,
    ) -> None:
        """The one way a status changes: check the table, record the move, or refuse."""
        current = Status(inc.status)
        resume = Status(inc.resume_status) if inc.resume_status else None
        facts = self.facts(journal.session, inc)
        verdict = judge(current, target, facts, resume_status=resume, by_person=by_person)
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

    def reopen(self, journal: Journal, inc: Incident, reason: str) -> None:
        """A recurrence: back to assessment, with severity to be confirmed again."""
        self.move(journal, inc, Status.REOPENED, reason)
        left = cancel_remaining(inc, f"reopened: {reason}")
        if left:
            journal.event(
                inc, "monitoring.cancelled", f"{left} extended-monitoring checkpoint(s) cancelled"
            )
        inc.severity_confirmed = False
        inc.pending_approval = None
        journal.tell(inc, MessageKind.REOPENED, {"reason": reason})
        journal.tell(inc, MessageKind.STATUS_UPDATE)

    def halt(self, journal: Journal, inc: Incident, reason: str) -> None:
        """Stop where we are until the missing input arrives."""
        if inc.status == Status.HALTED:
            inc.halt_reason = reason
            journal.event(inc, "halted", f"still halted: {reason}")
            return
        self.move(journal, inc, Status.HALTED, reason)

    def suspect_of(self, session: Session, inc: Incident) -> Deploy | None:
        """The deploy recorded as the incident's suspect, if any."""
        return session.get(Deploy, inc.suspect_deploy_id) if inc.suspect_deploy_id else None

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
