"""Phase 3: running the approved plan. Nothing runs without confirmed severity and approval."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from incident_commander import plugins
from incident_commander.clock import utcnow
from incident_commander.errors import ExecutionRefused
from incident_commander.protocol.journal import Journal, phase_start
from incident_commander.protocol.states import Status
from incident_commander.protocol.steps import context_for
from incident_commander.store.models import Decision, Execution, Incident

if TYPE_CHECKING:
    from incident_commander.protocol.engine import Engine

__all__ = ["execute"]


def _approval(journal: Journal, inc: Incident) -> Decision | None:
    latest = journal.session.scalars(
        select(Decision)
        .where(Decision.incident_id == inc.id, Decision.kind == "mitigation")
        .order_by(Decision.id.desc())
    ).first()
    return latest if latest is not None and latest.answer == "yes" else None


def _refuse(inc: Incident, why: str) -> ExecutionRefused:
    return ExecutionRefused(f"{inc.id}: refusing to execute: {why}. Nothing was run.")


def _preflight(journal: Journal, inc: Incident) -> Decision:
    """The rule above all: confirmed severity, the right status, a recorded approval."""
    if not inc.severity_confirmed:
        raise _refuse(inc, "severity has not been confirmed")
    if inc.status not in (Status.AWAITING_APPROVAL, Status.EXECUTING):
        raise _refuse(inc, f"status is {inc.status}, not awaiting_approval")
    decision = _approval(journal, inc)
    if decision is None:
        raise _refuse(inc, "no approval of the proposed mitigation is recorded")
    if not (inc.plan or {}).get("chosen"):
        raise _refuse(inc, "the plan has no executable option")
    return decision


def _start(engine: Engine, incident_id: str, option: str, attempt: int) -> int:
    """Record the attempt as started (durably) before anything runs."""
    with engine.transaction() as journal:
        inc = engine.load(journal.session, incident_id)
        decision = _preflight(journal, inc)
        interrupted = journal.session.scalars(
            select(Execution).where(Execution.incident_id == inc.id, Execution.status == "started")
        ).first()
        if interrupted is not None:
            raise _refuse(
                inc,
                f"an earlier run of {interrupted.option_name} (key {interrupted.idempotency_key}) "
                "started but never finished; check the live release, then record the outcome",
            )
        if inc.status == Status.AWAITING_APPROVAL:
            engine.move(journal, inc, Status.EXECUTING, f"approved by {decision.approver}")
            journal.event(inc, "phase", phase_start(3))
        plan = inc.plan or {}
        config = next(
            c for c in engine.settings.services[inc.service].rollback_options if c.name == option
        )
        executor = plugins.load("executor", config.kind)()
        ctx = context_for(engine, inc)
        row = Execution(
            incident_id=inc.id,
            idempotency_key=f"{inc.id}:{decision.id}:{option}:{attempt}",
            option_name=option,
            kind=config.kind,
            decision_id=decision.id,
            status="started",
            target_release=plan.get("target_release"),
            release_before=executor.current_release(config, ctx),
            started_at=utcnow(),
            commands=[],
        )
        journal.session.add(row)
        journal.session.flush()
        journal.event(
            inc,
            "execution.started",
            f"running {option} ({config.kind}) → {row.target_release}; key {row.idempotency_key}",
        )
        return row.id


def execute(engine: Engine, incident_id: str) -> list[Execution]:
    """Run each option of the approved plan in order until one succeeds."""
    with engine.store.session() as session:
        inc = engine.load(session, incident_id, lock=False)
        _preflight(Journal(session, engine.settings), inc)
        chosen: list[str] = list((inc.plan or {}).get("chosen", []))
    runs: list[Execution] = []
    for attempt, option in enumerate(chosen, start=1):
        execution_id = _start(engine, incident_id, option, attempt)
        with engine.store.session() as session:
            fresh = session.get(Incident, incident_id)
            assert fresh is not None
            config = next(
                c
                for c in engine.settings.services[fresh.service].rollback_options
                if c.name == option
            )
            ctx = context_for(engine, fresh)
        executor = plugins.load("executor", config.kind)()
        try:
            result = executor.execute(config, ctx)
        except Exception as exc:  # an executor bug is a failed attempt, not a lost incident
            from incident_commander.executors.base import ExecutionResult

            result = ExecutionResult(status="failed", error=f"{type(exc).__name__}: {exc}")
        with engine.transaction() as journal:
            inc = engine.load(journal.session, incident_id)
            row = journal.session.get(Execution, execution_id)
            assert row is not None
            row.status = result.status
            row.finished_at = utcnow()
            row.duration_s = round((row.finished_at - row.started_at).total_seconds(), 4)
            row.commands = [c.model_dump(mode="json") for c in result.commands]
            row.release_before = result.release_before or row.release_before
            row.release_after = result.release_after
            row.error = result.error
            journal.event(inc, "automation", f"[AUTOMATION] {option} executed: {result.status}")
            runs.append(row)
            if result.status == "succeeded":
                inc.mitigated_at = row.finished_at
                engine.move(journal, inc, Status.VALIDATING, f"{option} succeeded")
                journal.notify(
                    inc,
                    f"[{inc.severity}] {inc.service}: mitigation done, validating ({inc.id})",
                    f"{option} finished: release {row.release_before} → {row.release_after}. "
                    "Recovery validation is running.",
                )
                return runs
            journal.event(inc, "error", f"[ERROR] Rollback script failed: {result.error}.")
            remaining = chosen[attempt:]
            journal.notify(
                inc,
                f"[{inc.severity}] {inc.service}: rollback {option} FAILED ({inc.id})",
                f"{option} failed: {result.error}. "
                + (f"Trying next: {remaining[0]}." if remaining else "No option left; escalating."),
            )
            if not remaining:
                engine.move(journal, inc, Status.PLANNING, "every option of the plan failed")
    return runs
