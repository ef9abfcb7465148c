"""Phase 1: assessing severity from recorded answers, and asking for its confirmation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from incident_commander.clock import isoformat, utcnow
from incident_commander.errors import TransitionRejected
from incident_commander.notify.messages import MessageKind
from incident_commander.protocol.severity import Answers, classify
from incident_commander.protocol.states import Status
from incident_commander.protocol.steps import approve

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["assess"]


def assess(kernel: Kernel, incident_id: str, answers: Answers, *, assessed_by: str) -> str:
    """Classify severity from recorded answers, notify, and ask for confirmation."""
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
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
        result = classify(answers, kernel.settings.scheme)
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
            kernel.move(journal, inc, Status.TRIAGED, f"severity assessed as {inc.severity}")
        level = kernel.settings.scheme.level(inc.severity)
        journal.tell(
            inc,
            MessageKind.INCIDENT_OPENED,
            {"meaning": level.meaning, "response": level.response},
        )
        approve.ask(
            kernel,
            journal,
            inc,
            "severity",
            inc.severity,
            policy_says=f"approves {inc.severity} for {inc.service}",
        )
        return result.severity
