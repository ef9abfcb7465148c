"""Phase 3: running the approved plan. Nothing runs without confirmed severity and approval.

Every attempt is committed as ``started`` (with an idempotency key and its owner, host:pid)
before its command runs. If the process dies mid-run, the next ``execute`` does not run anything
again: it checks the live release and either records that the rollback took effect or sends the
incident back to planning for a new decision.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from incident_commander import plugins
from incident_commander.clock import utcnow
from incident_commander.errors import ExecutionRefused
from incident_commander.executors.base import ExecutionContext, ExecutionResult, ExecutorConfig
from incident_commander.protocol.journal import phase_start
from incident_commander.protocol.states import Status
from incident_commander.protocol.steps import context_for
from incident_commander.store.models import Decision, Execution, Incident

if TYPE_CHECKING:
    from incident_commander.protocol.engine import Engine

__all__ = ["ExecutionOutcome", "execute"]

HOST = socket.gethostname()


@dataclass
class ExecutionOutcome:
    """What ``execute`` did: the attempts it ran, or how it settled an interrupted one."""

    runs: list[Execution] = field(default_factory=list)
    recovered: str | None = None
    took_effect: bool = False

    @property
    def succeeded(self) -> bool:
        return self.took_effect or any(r.status == "succeeded" for r in self.runs)


def _owner() -> str:
    return f"{HOST}:{os.getpid()}"


def _owner_alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != HOST or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _approval(session: Session, inc: Incident) -> Decision | None:
    latest = session.scalars(
        select(Decision)
        .where(Decision.incident_id == inc.id, Decision.kind == "mitigation")
        .order_by(Decision.id.desc())
    ).first()
    return latest if latest is not None and latest.answer == "yes" else None


def _refuse(inc: Incident, why: str) -> ExecutionRefused:
    return ExecutionRefused(f"{inc.id}: refusing to execute: {why}. Nothing was run.")


def _unfinished(session: Session, inc: Incident) -> Execution | None:
    return session.scalars(
        select(Execution).where(Execution.incident_id == inc.id, Execution.status == "started")
    ).first()


def _preflight(session: Session, inc: Incident) -> Decision:
    """The rule above all: confirmed severity, the right status, a recorded approval."""
    if not inc.severity_confirmed:
        raise _refuse(inc, "severity has not been confirmed")
    if inc.status not in (Status.AWAITING_APPROVAL, Status.EXECUTING):
        raise _refuse(inc, f"status is {inc.status}, not awaiting_approval")
    decision = _approval(session, inc)
    if decision is None:
        raise _refuse(inc, "no approval of the proposed mitigation is recorded")
    if not (inc.plan or {}).get("chosen"):
        raise _refuse(inc, "the plan has no executable option")
    return decision


def _option(engine: Engine, inc: Incident, name: str) -> ExecutorConfig:
    service = engine.settings.services.get(inc.service)
    for config in service.rollback_options if service else []:
        if config.name == name:
            return config
    raise _refuse(inc, f"option {name!r} is no longer configured for {inc.service}")


def _start(
    engine: Engine, incident_id: str, option: str, attempt: int
) -> tuple[int, ExecutorConfig, ExecutionContext]:
    """Record the attempt as started (durably) before anything runs; return what to run."""
    with engine.transaction() as journal:
        inc = engine.load(journal.session, incident_id)
        decision = _preflight(journal.session, inc)
        if _unfinished(journal.session, inc) is not None:
            raise _refuse(inc, "another attempt is still marked as running")
        if inc.status == Status.AWAITING_APPROVAL:
            engine.move(journal, inc, Status.EXECUTING, f"approved by {decision.approver}")
            journal.event(inc, "phase", phase_start(3))
        config = _option(engine, inc, option)
        executor = plugins.load("executor", config.kind)()
        ctx = context_for(engine, inc)
        row = Execution(
            incident_id=inc.id,
            idempotency_key=f"{inc.id}:{decision.id}:{option}:{attempt}",
            option_name=option,
            kind=config.kind,
            decision_id=decision.id,
            status="started",
            owner=_owner(),
            target_release=(inc.plan or {}).get("target_release"),
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
        return row.id, config, ctx


def _settle_interrupted(engine: Engine, incident_id: str) -> ExecutionOutcome | None:
    """Settle an attempt whose process died; never run it again. Returns what was found."""
    with engine.transaction() as journal:
        inc = engine.load(journal.session, incident_id)
        row = _unfinished(journal.session, inc)
        if row is None:
            return None
        if _owner_alive(row.owner):
            raise _refuse(inc, f"{row.option_name} is still running (owner {row.owner})")
        config = _option(engine, inc, row.option_name)
        live = plugins.load("executor", config.kind)().current_release(
            config, context_for(engine, inc)
        )
        row.finished_at = utcnow()
        row.duration_s = round((row.finished_at - row.started_at).total_seconds(), 4)
        row.release_after = live
        took_effect = live is not None and live == row.target_release
        if took_effect:
            row.status = "succeeded"
            found = (
                f"{row.option_name} was interrupted (owner {row.owner} is gone), but the live "
                f"release is {live}, the target: the rollback took effect; validating next"
            )
            inc.mitigated_at = row.finished_at
            journal.event(inc, "execution.interrupted", found)
            engine.move(journal, inc, Status.VALIDATING, "interrupted rollback verified by release")
        else:
            row.status = "interrupted"
            row.error = "the process running it stopped before recording the outcome"
            found = (
                f"{row.option_name} was interrupted (owner {row.owner} is gone); live release "
                f"{live or 'unknown'}, target {row.target_release}: nothing was re-run; "
                "plan and approve again"
            )
            journal.event(inc, "execution.interrupted", found)
            engine.move(journal, inc, Status.PLANNING, "interrupted rollback needs a new decision")
            journal.notify(
                inc,
                f"[{inc.severity}] {inc.service}: rollback interrupted ({inc.id})",
                found,
            )
        return ExecutionOutcome(recovered=found, took_effect=took_effect)


def execute(engine: Engine, incident_id: str) -> ExecutionOutcome:
    """Run each option of the approved plan in order until one succeeds."""
    settled = _settle_interrupted(engine, incident_id)
    if settled is not None:
        return settled
    with engine.store.session() as session:
        inc = engine.load(session, incident_id, lock=False)
        _preflight(session, inc)
        chosen: list[str] = list((inc.plan or {}).get("chosen", []))
    outcome = ExecutionOutcome()
    for attempt, option in enumerate(chosen, start=1):
        execution_id, config, ctx = _start(engine, incident_id, option, attempt)
        executor = plugins.load("executor", config.kind)()
        try:
            result = executor.execute(config, ctx)
        except Exception as exc:  # an executor bug is a failed attempt, not a lost incident
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
            outcome.runs.append(row)
            if result.status == "succeeded":
                inc.mitigated_at = row.finished_at
                engine.move(journal, inc, Status.VALIDATING, f"{option} succeeded")
                journal.notify(
                    inc,
                    f"[{inc.severity}] {inc.service}: mitigation done, validating ({inc.id})",
                    f"{option} finished: release {row.release_before} → {row.release_after}. "
                    "Recovery validation is running.",
                )
                return outcome
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
    return outcome
