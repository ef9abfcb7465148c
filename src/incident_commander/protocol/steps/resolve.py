"""Phase 4: resolving (summary, notification, watch schedule), closing, false positives."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from incident_commander.clock import isoformat, utcnow
from incident_commander.errors import TransitionRejected
from incident_commander.executors.base import ExecutionStatus
from incident_commander.notify.messages import MessageKind
from incident_commander.protocol.checkpoints import cancel_remaining
from incident_commander.protocol.gates import run_gate
from incident_commander.protocol.journal import Journal, phase_complete
from incident_commander.protocol.states import Facts, Status, judge
from incident_commander.protocol.steps import monitor
from incident_commander.store.models import Execution, Incident

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["EXTENDED_MONITORING", "close", "dismiss", "resolve"]

CLOSE_WAITS_FOR_MESSAGES_S = 30
REVIEWED_LEVELS = 2  # incidents of the top two levels get a post-incident review invitation
EXTENDED_MONITORING = (
    "continuous checks for the first 30 minutes",
    "every 10 minutes during the first hour",
    "a check at 4 hours",
    "a check at 24 hours",
)


def resolve(kernel: Kernel, journal: Journal, inc: Incident, approver: str) -> None:
    """Resolution confirmed: record the summary, notify (and invite the responders and
    stakeholders of a top-two-level incident to its review), schedule watching, archive evidence."""
    kernel.move(journal, inc, Status.RESOLVED, f"resolution confirmed by {approver}")
    now = utcnow()
    inc.resolved_at = now
    done = journal.session.scalars(
        select(Execution)
        .where(Execution.incident_id == inc.id, Execution.status == ExecutionStatus.SUCCEEDED.value)
        .order_by(Execution.id.desc())
    ).first()
    schedule = [
        {"at": isoformat(now + timedelta(minutes=m)), "what": what}
        for m, what in (
            (30, EXTENDED_MONITORING[0]),
            (60, EXTENDED_MONITORING[1]),
            (240, EXTENDED_MONITORING[2]),
            (1440, EXTENDED_MONITORING[3]),
        )
    ]
    action = f"{done.option_name}: {done.release_before} → {done.release_after}" if done else "none"
    journal.tell(inc, MessageKind.RESOLVED, {"action": action})
    journal.tell(inc, MessageKind.STATUS_UPDATE)
    if _invites_review(kernel, inc):
        journal.tell(inc, MessageKind.POSTMORTEM_INVITE)
    inc.resolution = {
        "summary": f"recovered after {action}" if done else "recovered",
        "confirmed_by": approver,
        "action": action,
        "release_after": done.release_after if done else None,
        "extended_monitoring": schedule,
        # Becomes true when the outbox delivers one of these messages after the commit.
        "stakeholders_informed": False,
    }
    journal.event(inc, "incident.resolved", f"resolved: {inc.resolution['summary']}")
    kernel.move(journal, inc, Status.MONITORING, "extended monitoring scheduled")
    monitor.schedule(kernel, journal, inc, now)
    journal.event(inc, "phase", phase_complete(4))
    journal.postmortem.add(inc.id)


def _invites_review(kernel: Kernel, inc: Incident) -> bool:
    """Whether resolving ``inc`` invites to a post-incident review: the top two levels do."""
    names = kernel.settings.scheme.names
    return inc.severity in names[:REVIEWED_LEVELS]


NEXT_STEP = {
    Status.DETECTED: "run `ic assess {id}` to assess its severity",
    Status.REOPENED: "run `ic assess {id}` to assess it again",
    Status.TRIAGED: "answer the severity confirmation: `ic approve {id} --yes --as NAME`",
    Status.PLANNING: "run `ic plan {id}` to write the mitigation plan",
    Status.AWAITING_APPROVAL: "answer the mitigation approval: `ic approve {id} --yes --as NAME`",
    Status.EXECUTING: "run `ic execute {id}` to finish the mitigation",
    Status.VALIDATING: "run `ic validate {id}` to verify recovery, then confirm the resolution "
    "(`ic resolve {id} --yes --as NAME`)",
    Status.HALTED: "see why it halted with `ic show {id}`; give what is missing and run "
    "`ic run {id}`, or end it with `ic dismiss {id} --reason TEXT`",
}


def close(kernel: Kernel, incident_id: str, *, closed_by: str) -> None:
    """Close once gate 4 (resolution and documentation) passes."""
    # Gate 4 asks whether stakeholders were informed: let queued messages finish first.
    kernel.outbox.flush(CLOSE_WAITS_FOR_MESSAGES_S)
    record = kernel.record(incident_id)
    status = Status(record.incident.status)
    allowed = judge(status, Status.CLOSED, Facts(documentation_complete=True))
    if not allowed.accepted:
        step = NEXT_STEP.get(status)
        raise TransitionRejected(
            f"{incident_id}: {allowed.reason}",
            hint=f"an incident is closed once resolved: {step.format(id=incident_id)}"
            if step
            else None,
        )
    result = run_gate("4", record, kernel)
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        if result.passed:
            kernel.move(journal, inc, Status.CLOSED, f"closed by {closed_by}; gate 4 passed")
            inc.closed_at = utcnow()
            left = cancel_remaining(inc, f"closed by {closed_by} before it was due")
            if left:
                journal.event(
                    inc,
                    "monitoring.cancelled",
                    f"closed with {left} extended-monitoring checkpoint(s) not run",
                )
        else:
            journal.event(inc, "error", "[ERROR] Required incident evidence missing.")
    if not result.passed:
        raise TransitionRejected(
            f"{incident_id}: [ERROR] Required incident evidence missing. {result.found}",
            hint=result.next_step,
        )


def dismiss(
    kernel: Kernel, incident_id: str, *, reason: str, dismissed_by: str, by_person: bool = False
) -> None:
    """A false positive: record it, do not escalate, and feed alert tuning.

    ``by_person``: a person dismisses, which a halted incident also allows.
    """
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        journal.event(
            inc,
            "alert",
            "[ALERT] Potential false-positive detected. Incident severity not confirmed."
            if not inc.severity_confirmed
            else f"[ALERT] Dismissed while {inc.status} by {dismissed_by}.",
        )
        kernel.move(
            journal,
            inc,
            Status.FALSE_POSITIVE,
            f"{reason} (by {dismissed_by})",
            by_person=by_person,
        )
        inc.resolution = {
            "false_positive": {
                "signal": inc.title,
                "service": inc.service,
                "source": inc.source,
                "reason": reason,
                "recorded_by": dismissed_by,
                "at": isoformat(utcnow()),
                "suggestion": "lengthen the alert's confirmation window or raise its threshold, "
                "or silence it during maintenance, so this signal does not page again",
            }
        }
