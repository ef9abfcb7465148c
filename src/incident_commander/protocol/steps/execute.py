"""Phase 3: running the approved plan. Nothing runs without confirmed severity and approval.

Every attempt is committed as ``started`` (with an idempotency key, its owner ``host:pid`` and
a lease) before its command runs; ``in_flight`` names the service, so one execution per service
is in flight at a time, across every process sharing the store. The owner renews the lease
while the command runs (``protocol/lease.py``). An attempt whose owner stopped is settled,
never re-run (``protocol/settle.py``). A result that arrives after the attempt was settled is
recorded as it is, and said so.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incident_commander import proctree
from incident_commander.clock import utcnow
from incident_commander.executors.base import (
    ExecutionContext,
    ExecutionResult,
    ExecutionStatus,
    ExecutorConfig,
)
from incident_commander.notify.messages import MessageKind
from incident_commander.plugins import EXECUTORS
from incident_commander.protocol.journal import Journal, phase_start
from incident_commander.protocol.lease import (
    Heartbeat,
    lease_seconds,
    owner_id,
    store_now,
    work_tag,
)
from incident_commander.protocol.states import Status
from incident_commander.protocol.steps.plan import context_for
from incident_commander.protocol.steps.settle import (
    ExecutionOutcome,
    describe,
    in_flight,
    option,
    refuse,
    settle,
    unfinished,
)
from incident_commander.store.models import Decision, Execution, Incident
from incident_commander.store.state import plan_of

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["ExecutionOutcome", "execute"]


def _approval(session: Session, inc: Incident) -> Decision | None:
    latest = session.scalars(
        select(Decision)
        .where(Decision.incident_id == inc.id, Decision.kind == "mitigation")
        .order_by(Decision.id.desc())
    ).first()
    return latest if latest is not None and latest.answer == "yes" else None


def _preflight(session: Session, inc: Incident) -> Decision:
    """The rule above all: confirmed severity, the right status, a recorded approval."""
    if not inc.severity_confirmed:
        raise refuse(inc, "severity has not been confirmed")
    if inc.status not in (Status.AWAITING_APPROVAL, Status.EXECUTING):
        raise refuse(inc, f"status is {inc.status}, not awaiting_approval")
    decision = _approval(session, inc)
    if decision is None:
        raise refuse(inc, "no approval of the proposed mitigation is recorded")
    if not plan_of(inc).chosen:
        raise refuse(inc, "the plan has no executable option")
    return decision


def _key(inc: Incident, decision: Decision, name: str, attempt: int) -> str:
    return f"{inc.id}:{decision.id}:{name}:{attempt}"


def _attempted(session: Session, inc: Incident, decision: Decision) -> set[str]:
    """Idempotency keys already used under this approval: those options never run again."""
    prefix = f"{inc.id}:{decision.id}:"
    keys = session.scalars(
        select(Execution.idempotency_key).where(Execution.decision_id == decision.id)
    )
    return {key for key in keys if key.startswith(prefix)}


def _in_flight_elsewhere(inc: Incident, running: Execution, session: Session) -> str:
    if running.incident_id == inc.id:
        return describe(running, session)
    return (
        f"a rollback of {inc.service} is in flight for incident {running.incident_id}: "
        f"{describe(running, session)}"
    )


def _claim(journal: Journal, inc: Incident, row: Execution) -> None:
    """Insert the started row; refuse if the service has an execution in flight (any process)."""
    session = journal.session
    running = in_flight(session, inc.service)
    if running is not None:
        raise refuse(inc, _in_flight_elsewhere(inc, running, session))
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        running = in_flight(session, inc.service)
        if running is not None:
            raise refuse(inc, _in_flight_elsewhere(inc, running, session)) from None
        raise refuse(inc, f"attempt {row.idempotency_key} was already started") from None


def _live_release(kernel: Kernel, inc: Incident, name: str) -> str | None:
    """The release live now, as option ``name``'s executor tells it (``None`` if it cannot).

    Not asked of an executor that reads it itself as its first step: its result names it.
    """
    config = option(kernel, inc, name)
    executor = EXECUTORS.load(config.kind)()
    if executor.reads_release_first:
        return None
    return executor.current_release(config, context_for(kernel, inc, config))


def _start(
    kernel: Kernel,
    incident_id: str,
    name: str,
    attempt: int,
    lease_s: float,
    before: str | None,
) -> tuple[int, str, ExecutorConfig, ExecutionContext]:
    """Record the attempt as started (durably, with a lease) before anything runs.

    ``before`` is the release live before it, read outside the transaction (the executor's own
    result names it again once the command ran). Returns the execution's id, the tag its
    processes will carry, its option and context.
    """
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        decision = _preflight(journal.session, inc)
        running = unfinished(journal.session, inc)
        if running is not None:
            raise refuse(inc, describe(running, journal.session))
        key = _key(inc, decision, name, attempt)
        if key in _attempted(journal.session, inc, decision):
            raise refuse(inc, f"attempt {key} was already run")
        config = option(kernel, inc, name)
        ctx = context_for(kernel, inc, config)
        now = store_now(journal.session)
        row = Execution(
            incident_id=inc.id,
            idempotency_key=key,
            option_name=name,
            kind=config.kind,
            decision_id=decision.id,
            status=ExecutionStatus.STARTED.value,
            owner=owner_id(),
            target_release=ctx.target_release,
            release_before=before,
            started_at=utcnow(),
            commands=[],
            heartbeat_at=now,
            lease_expires_at=now + timedelta(seconds=lease_s),
            in_flight=inc.service,
        )
        _claim(journal, inc, row)
        if inc.status == Status.AWAITING_APPROVAL:
            kernel.move(journal, inc, Status.EXECUTING, f"approved by {decision.approver}")
            journal.event(inc, "phase", phase_start(3))
        journal.event(
            inc,
            "execution.started",
            f"running {name} ({config.kind})"
            + (f" → {row.target_release}" if row.target_release else "")
            + f"; key {row.idempotency_key}",
        )
        journal.tell(
            inc,
            MessageKind.MITIGATION_STARTED,
            {
                "option": name,
                "option_kind": config.kind,
                "target_release": row.target_release,
                "approver": decision.approver,
            },
        )
        return row.id, work_tag(row), config, ctx


def _record(row: Execution, result: ExecutionResult) -> None:
    row.status = ExecutionStatus(result.status).value
    row.finished_at = utcnow()
    row.duration_s = round((row.finished_at - row.started_at).total_seconds(), 4)
    row.commands = [c.model_dump(mode="json") for c in result.commands]
    row.release_before = result.release_before or row.release_before
    row.release_after = result.release_after
    row.error = result.error
    row.in_flight = None


def _late(journal: Journal, inc: Incident, row: Execution, result: ExecutionResult) -> str:
    """The real outcome of an attempt settled while its command still ran: record it as is."""
    settled = row.status
    _record(row, result)
    found = (
        f"{row.option_name} finished after its lease was lost: {result.status}"
        + (f" ({result.error})" if result.error else "")
        + f"; it had been settled as {settled}, and the incident stays {inc.status}: "
        "check the service before the next decision"
    )
    journal.event(inc, "execution.late", found)
    journal.tell(
        inc, MessageKind.INTERNAL_UPDATE, {"headline": "late rollback outcome", "text": found}
    )
    return found


def _finish(
    journal: Journal,
    kernel: Kernel,
    inc: Incident,
    row: Execution,
    result: ExecutionResult,
    remaining: list[str],
) -> None:
    _record(row, result)
    name = row.option_name
    journal.event(inc, "automation", f"[AUTOMATION] {name} executed: {result.status}")
    if result.status == ExecutionStatus.SUCCEEDED:
        inc.mitigated_at = row.finished_at
        kernel.move(journal, inc, Status.VALIDATING, f"{name} succeeded")
        journal.tell(
            inc,
            MessageKind.MITIGATION_RESULT,
            {
                "ok": True,
                "option": name,
                "release_before": row.release_before,
                "release_after": row.release_after,
            },
        )
        journal.tell(inc, MessageKind.STATUS_UPDATE)
        return
    journal.event(inc, "error", f"[ERROR] Rollback script failed: {result.error}.")
    journal.tell(
        inc,
        MessageKind.MITIGATION_RESULT,
        {
            "ok": False,
            "option": name,
            "error": result.error,
            "next_option": remaining[0] if remaining else None,
        },
    )
    if not remaining:
        kernel.move(journal, inc, Status.PLANNING, "every option of the plan failed")


def execute(kernel: Kernel, incident_id: str) -> ExecutionOutcome:
    """Run each option of the approved plan in order until one succeeds.

    Options already attempted under this approval are not run again.
    """
    lease_s = lease_seconds()
    # One read, without the write lock: an attempt to settle, or the options still to run (and
    # the release live before the first of them: read from the world outside any transaction).
    with kernel.store.session() as session:
        inc = kernel.load(session, incident_id, lock=False)
        lost = unfinished(session, inc) is not None
        if not lost:
            decision = _preflight(session, inc)  # nothing is looked at without approval
            chosen = plan_of(inc).chosen
            done = _attempted(session, inc, decision)
            todo = [
                (attempt, name)
                for attempt, name in enumerate(chosen, start=1)
                if _key(inc, decision, name, attempt) not in done
            ]
            before = _live_release(kernel, inc, todo[0][1]) if todo else None
    if lost:
        settled = settle(kernel, incident_id)
        if settled is not None:
            return settled
        return execute(kernel, incident_id)  # settled meanwhile by another process
    outcome = ExecutionOutcome()
    for index, (attempt, name) in enumerate(todo):
        if index > 0:
            with kernel.store.session() as session:
                before = _live_release(kernel, kernel.load(session, incident_id, lock=False), name)
        execution_id, tag, config, ctx = _start(kernel, incident_id, name, attempt, lease_s, before)
        executor = EXECUTORS.load(config.kind)()
        with (
            Heartbeat(kernel.store, execution_id, owner_id(), lease_s),
            proctree.working(tag),
            kernel.behind(),
        ):
            try:
                result = executor.execute(config, ctx)
            except Exception as exc:  # an executor bug is a failed attempt, not a lost incident
                result = ExecutionResult(
                    status=ExecutionStatus.FAILED, error=f"{type(exc).__name__}: {exc}"
                )
        with kernel.transaction() as journal:
            inc = kernel.load(journal.session, incident_id)
            row = journal.session.get(Execution, execution_id, with_for_update=True)
            assert row is not None
            if row.status != ExecutionStatus.STARTED or row.owner != owner_id():
                outcome.recovered = _late(journal, inc, row, result)
                return outcome
            outcome.runs.append(row)
            _finish(journal, kernel, inc, row, result, [n for _, n in todo[index + 1 :]])
            if result.status == ExecutionStatus.SUCCEEDED:
                return outcome
    return outcome
