"""``ic run``: drive an incident as far as approvals and policies allow, then say what is needed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from incident_commander.executors.base import ExecutionStatus
from incident_commander.protocol.severity import Answers
from incident_commander.protocol.states import Status
from incident_commander.protocol.steps import approve, assess, execute, plan, validate
from incident_commander.store.state import validation_of

if TYPE_CHECKING:
    from incident_commander.evidence.record import IncidentRecord
    from incident_commander.protocol.kernel import Kernel

__all__ = ["NEXT_STEP", "RunOutcome", "run"]

MAX_STEPS = 20


@dataclass(frozen=True)
class RunOutcome:
    """Where the incident stopped, and what it needs from a person (``None``: nothing)."""

    incident_id: str
    status: str
    needs: str | None
    ok: bool = False


def _proposed_answers(record: IncidentRecord) -> tuple[Answers, str] | None:
    """Answers a signal proposed (a probe seeing an outage, an alert rule), newest first."""
    for signal in reversed(record.signals):
        proposal = signal.details.get("proposed_answers")
        if proposal:
            return Answers.model_validate(proposal["answers"]), str(proposal["by"])
    return None


Step = Callable[["Kernel", "IncidentRecord"], str | None]
"""Take the next step of an incident in one status: ``None`` after acting, else what a person
must supply first. The record has no events or messages (``timeline=False``)."""


def _assess(kernel: Kernel, record: IncidentRecord) -> str | None:
    inc = record.incident
    status = Status(inc.status)
    fresh = not inc.assessment or status == Status.REOPENED
    proposal = _proposed_answers(record) if fresh else None
    if proposal is None:
        return f"a severity assessment (`ic assess {inc.id}`)"
    assess.assess(kernel, inc.id, proposal[0], assessed_by=f"{proposal[1]} (automatic)")
    return None


def _plan(kernel: Kernel, record: IncidentRecord) -> str | None:
    inc = record.incident
    failures = [e for e in record.executions if e.status != ExecutionStatus.SUCCEEDED]
    if (inc.plan and failures) or validation_of(inc).attempts:
        return (
            "a new decision: the last plan failed or did not restore service "
            f"(`ic plan {inc.id} --option NAME` or investigate)"
        )
    plan.plan(kernel, inc.id)
    return None


def _execute(kernel: Kernel, record: IncidentRecord) -> str | None:
    # In ``executing`` this settles an attempt whose owner died; it runs nothing again.
    execute.execute(kernel, record.incident.id)
    return None


def _validate(kernel: Kernel, record: IncidentRecord) -> str | None:
    validate.validate(kernel, record.incident.id)
    return None


def _halted(kernel: Kernel, record: IncidentRecord) -> str | None:
    return f"the missing input: {record.incident.halt_reason}"


NEXT_STEP: dict[Status, Step] = {
    Status.DETECTED: _assess,
    Status.TRIAGED: _assess,
    Status.REOPENED: _assess,
    Status.PLANNING: _plan,
    Status.HALTED: _halted,
    Status.AWAITING_APPROVAL: _execute,
    Status.EXECUTING: _execute,
    Status.VALIDATING: _validate,
}
"""The step ``ic run`` takes in each open status, beside the move table of ``states.py``; every
status not listed (resolved, monitoring, and the terminal ones) is where driving ends."""


def run(kernel: Kernel, incident_id: str) -> RunOutcome:
    """Take each next step whose inputs exist; stop at the first that needs a person.

    The steps' evidence is rendered while their slow parts run and when driving stops, not
    between two steps: the rollback starts sooner.
    """
    with kernel.deferred_rendering():
        return _drive(kernel, incident_id)


def _drive(kernel: Kernel, incident_id: str) -> RunOutcome:
    for _ in range(MAX_STEPS):
        record = kernel.record(incident_id, timeline=False)  # the steps decide on the rest
        inc = record.incident
        status = Status(inc.status)
        if inc.pending_approval:
            prompt = approve.pending_prompt(kernel, incident_id)
            answer = f"an answer to: {prompt} (`ic approve {incident_id} --yes|--no --as NAME`)"
            return RunOutcome(incident_id, inc.status, answer)
        step = NEXT_STEP.get(status)
        if step is None:  # resolved or monitoring: done; closed: done; false positive: not ok
            return RunOutcome(incident_id, inc.status, None, status != Status.FALSE_POSITIVE)
        needs = step(kernel, record)
        if needs is not None:
            return RunOutcome(incident_id, inc.status, needs)
    return RunOutcome(
        incident_id, kernel.record(incident_id).incident.status, "too many steps", False
    )
