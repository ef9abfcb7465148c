"""Settling an execution whose owner stopped: never run again; decide what happened.

While the owner's lease is fresh (and the owner is not a process on this host known to be
gone) nothing is settled: ``ic execute`` refuses, whatever host it runs on. Once the lease has
expired, a command still running here is reported, not replaced. Otherwise the executor's own
state check decides: the live release is the target (took effect, validate next), is not
(back to planning), or cannot be told (back to planning, outcome unknown).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from incident_commander.clock import utcnow
from incident_commander.errors import ExecutionRefused
from incident_commander.executors.base import ExecutionStatus, ExecutorConfig
from incident_commander.notify.messages import MessageKind
from incident_commander.plugins import EXECUTORS
from incident_commander.protocol.lease import (
    heartbeat_age,
    owner_gone,
    still_running,
    store_now,
)
from incident_commander.protocol.states import Status
from incident_commander.protocol.steps.plan import context_for
from incident_commander.store.models import Execution, Incident

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["ExecutionOutcome", "in_flight", "option", "refuse", "settle", "unfinished"]


@dataclass
class ExecutionOutcome:
    """What ``execute`` did: the attempts it ran, or how it settled an interrupted one."""

    runs: list[Execution] = field(default_factory=list)
    recovered: str | None = None
    took_effect: bool = False

    @property
    def succeeded(self) -> bool:
        return self.took_effect or any(r.status == ExecutionStatus.SUCCEEDED for r in self.runs)


def refuse(inc: Incident, why: str) -> ExecutionRefused:
    return ExecutionRefused(f"{inc.id}: refusing to execute: {why}. Nothing was run.")


def option(kernel: Kernel, inc: Incident, name: str) -> ExecutorConfig:
    service = kernel.settings.services.get(inc.service)
    for config in service.rollback_options if service else []:
        if config.name == name:
            return config
    raise refuse(inc, f"option {name!r} is no longer configured for {inc.service}")


def unfinished(session: Session, inc: Incident) -> Execution | None:
    return session.scalars(
        select(Execution).where(
            Execution.incident_id == inc.id, Execution.status == ExecutionStatus.STARTED.value
        )
    ).first()


def in_flight(session: Session, service: str) -> Execution | None:
    return session.scalars(select(Execution).where(Execution.in_flight == service)).first()


def describe(row: Execution, session: Session) -> str:
    """``execution 3 (option) is running, owned by host:pid, heartbeat 2 s ago``."""
    age = heartbeat_age(row, store_now(session))
    return f"execution {row.id} ({row.option_name}) is running, owned by {row.owner}, {age}"


def _check(session: Session, inc: Incident, row: Execution) -> str:
    """Refuse while the execution is owned or its command runs; else say why it is settled."""
    now = store_now(session)
    age = heartbeat_age(row, now)
    if owner_gone(row.owner):
        why = f"owner {row.owner} is gone"
    elif row.lease_expires_at is None or row.lease_expires_at <= now:
        why = f"owner {row.owner} stopped renewing its lease, {age}"
    else:
        raise refuse(inc, describe(row, session))
    alive = still_running(row)
    if alive:
        if row.command_pid in alive:
            what = f"its command is still running (pid {row.command_pid})"
        else:
            shown = ", ".join(str(pid) for pid in alive[:10])
            what = f"processes its command started are still running (pid {shown})"
        raise refuse(
            inc,
            f"execution {row.id} ({row.option_name}) lost its owner ({why}), but {what}; "
            "nothing was started: wait for them to finish or stop them, then run "
            "`ic execute` again",
        )
    return why


def settle(kernel: Kernel, incident_id: str) -> ExecutionOutcome | None:
    """Settle an attempt whose owner stopped; never run it again. Returns what was found.

    The executor's state check looks at the world (a provider's tool, a flag service), so it
    runs between two reads, outside any write transaction; the attempt is settled only if it is
    still the same unfinished attempt afterwards.
    """
    with kernel.store.session() as session:  # the usual case, nothing to settle: no write lock
        inc = kernel.load(session, incident_id, lock=False)
        row = unfinished(session, inc)
        if row is None:
            return None
        _check(session, inc, row)  # refuses while the owner holds it or its command runs
        config = option(kernel, inc, row.option_name)
        ctx = replace(context_for(kernel, inc, config), target_release=row.target_release)
        seen = (row.id, row.owner)
    state = EXECUTORS.load(config.kind)().check_state(config, ctx)
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        row = unfinished(journal.session, inc)
        if row is None or (row.id, row.owner) != seen:
            return None  # settled or finished meanwhile: the caller looks again
        why = _check(journal.session, inc, row)
        row.finished_at = utcnow()
        row.duration_s = round((row.finished_at - row.started_at).total_seconds(), 4)
        row.release_after = state.live
        row.in_flight = None
        if state.took_effect:
            row.status = ExecutionStatus.SUCCEEDED.value
            found = (
                f"{row.option_name} was interrupted ({why}), but {state.detail}: "
                "the rollback took effect; validating next"
            )
            inc.mitigated_at = row.finished_at
            journal.event(inc, "execution.interrupted", found)
            kernel.move(journal, inc, Status.VALIDATING, "interrupted rollback verified by state")
            return ExecutionOutcome(recovered=found, took_effect=True)
        row.status = ExecutionStatus.INTERRUPTED.value
        if state.took_effect is None:
            row.error = f"outcome unknown: the owner stopped before recording it; {state.detail}"
            found = (
                f"{row.option_name} was interrupted ({why}); outcome unknown: {state.detail}; "
                "nothing was re-run; check the service, then plan and approve again"
            )
        else:
            row.error = f"the owner stopped before recording the outcome; {state.detail}"
            found = (
                f"{row.option_name} was interrupted ({why}); {state.detail}: "
                "nothing was re-run; plan and approve again"
            )
        journal.event(inc, "execution.interrupted", found)
        kernel.move(journal, inc, Status.PLANNING, "interrupted rollback needs a new decision")
        journal.tell(
            inc, MessageKind.INTERNAL_UPDATE, {"headline": "rollback interrupted", "text": found}
        )
        return ExecutionOutcome(recovered=found)
