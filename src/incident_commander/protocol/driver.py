"""``ic run``: drive an incident as far as approvals and policies allow, then say what is needed."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from incident_commander.protocol.severity import Answers
from incident_commander.protocol.states import TERMINAL, Status

if TYPE_CHECKING:
    from incident_commander.evidence.record import IncidentRecord
    from incident_commander.protocol.engine import Engine

__all__ = ["RunOutcome", "run"]

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


def run(engine: Engine, incident_id: str) -> RunOutcome:
    """Take each next step whose inputs exist; stop at the first that needs a person."""
    for _ in range(MAX_STEPS):
        record = engine.record(incident_id)
        inc = record.incident
        status = Status(inc.status)

        stop = partial(RunOutcome, incident_id, inc.status)
        if status in TERMINAL:
            return stop(None, status == Status.CLOSED)
        if inc.pending_approval:
            prompt = engine.pending_prompt(incident_id)
            return stop(f"an answer to: {prompt} (`ic approve {incident_id} --yes|--no --as NAME`)")
        if status in (Status.DETECTED, Status.REOPENED) or (
            status == Status.TRIAGED and not inc.severity_confirmed
        ):
            fresh = not inc.assessment or status == Status.REOPENED
            proposal = _proposed_answers(record) if fresh else None
            if proposal is None:
                return stop(f"a severity assessment (`ic assess {incident_id}`)")
            engine.assess(incident_id, proposal[0], assessed_by=f"{proposal[1]} (automatic)")
        elif status == Status.PLANNING:
            failures = [e for e in record.executions if e.status != "succeeded"]
            attempts = (inc.validation or {}).get("attempts") or []
            if (inc.plan and failures) or attempts:
                return stop(
                    "a new decision: the last plan failed or did not restore service "
                    f"(`ic plan {incident_id} --option NAME` or investigate)"
                )
            engine.plan(incident_id)
        elif status == Status.HALTED:
            return stop(f"the missing input: {inc.halt_reason}")
        elif status == Status.AWAITING_APPROVAL:
            engine.execute(incident_id)
        elif status == Status.EXECUTING:
            engine.execute(incident_id)  # settles an attempt whose process died; runs nothing
        elif status == Status.VALIDATING:
            engine.validate(incident_id)
        elif status in (Status.RESOLVED, Status.MONITORING):
            return stop(None, True)
    return RunOutcome(
        incident_id, engine.record(incident_id).incident.status, "too many steps", False
    )
