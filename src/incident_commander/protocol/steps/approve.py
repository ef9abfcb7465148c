"""The three approvals: asking (and letting a policy answer), answering, and what follows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from incident_commander.config import ApprovalKind
from incident_commander.errors import ApprovalNotPending, InvalidInput
from incident_commander.notify.messages import MessageKind
from incident_commander.protocol.journal import (
    APPROVAL_LABEL,
    Journal,
    phase_complete,
    phase_start,
)
from incident_commander.protocol.limits import bounded
from incident_commander.protocol.states import Status
from incident_commander.protocol.steps import resolve
from incident_commander.store.models import Decision, Incident

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["answer", "apply_answer", "ask", "pending_prompt"]


def ask(
    kernel: Kernel,
    journal: Journal,
    inc: Incident,
    kind: ApprovalKind,
    subject: str,
    *,
    policy_says: str,
    action_names: tuple[str, ...] = (),
    action_kinds: tuple[str, ...] = (),
) -> None:
    """Put a prompt to the humans; a policy whose conditions all hold answers it at once."""
    decision, policy = journal.ask(
        inc,
        kind,
        subject,
        suspect=kernel.suspect_of(journal.session, inc),
        action_names=action_names,
        action_kinds=action_kinds,
    )
    if not policy:
        journal.tell(inc, MessageKind.APPROVAL_REQUESTED, approval_context(inc, decision))
    else:
        apply_answer(
            kernel,
            journal,
            inc,
            decision,
            yes=True,
            approver=f"policy:{policy}",
            approver_type="policy",
            rationale=f"policy {policy} {policy_says}",
        )


def approval_context(inc: Incident, decision: Decision) -> dict[str, str]:
    """How to answer an approval: its prompt, the CLI commands and the API route."""
    kind = decision.kind
    return {
        "approval": APPROVAL_LABEL[kind],
        "kind": kind,
        "prompt": decision.prompt,
        "cli_yes": f"ic approve {inc.id} --kind {kind} --yes --as <your name>",
        "cli_no": f"ic approve {inc.id} --kind {kind} --no --as <your name> --reason <why>",
        "api_route": f"/api/v1/incidents/{inc.id}/approvals",
    }


def answer(
    kernel: Kernel,
    incident_id: str,
    *,
    yes: bool,
    approver: str,
    rationale: str = "",
    kind: ApprovalKind | None = None,
) -> Decision:
    """A person answers the pending approval (or the one named by ``kind``)."""
    if not approver.strip():
        raise InvalidInput("an answer needs the name of who gives it (--as NAME)")
    approver = bounded("the approver's name", approver, 200) or approver
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        pending = inc.pending_approval
        if pending is None or (kind is not None and kind != pending):
            asked = APPROVAL_LABEL[kind] if kind else "approval"
            now = APPROVAL_LABEL[pending] if pending else "nothing"
            raise ApprovalNotPending(
                f"{inc.id}: no {asked} is pending (status {inc.status}; pending: {now})"
            )
        decision = journal.session.scalars(
            select(Decision)
            .where(
                Decision.incident_id == inc.id,
                Decision.kind == pending,
                Decision.answer.is_(None),
            )
            .order_by(Decision.id.desc())
        ).first()
        assert decision is not None
        apply_answer(
            kernel,
            journal,
            inc,
            decision,
            yes=yes,
            approver=approver,
            approver_type="person",
            rationale=rationale,
        )
        return decision


def pending_prompt(kernel: Kernel, incident_id: str) -> str | None:
    """The text of the approval the incident waits for, if any."""
    with kernel.store.session() as session:
        inc = kernel.load(session, incident_id, lock=False)
        if not inc.pending_approval:
            return None
        decision = session.scalars(
            select(Decision)
            .where(Decision.incident_id == inc.id, Decision.answer.is_(None))
            .order_by(Decision.id.desc())
        ).first()
        return decision.prompt if decision else None


def apply_answer(
    kernel: Kernel,
    journal: Journal,
    inc: Incident,
    decision: Decision,
    *,
    yes: bool,
    approver: str,
    approver_type: str,
    rationale: str,
) -> None:
    """Record the answer, then take the step it allows (or record the refusal)."""
    journal.record_answer(
        inc, decision, yes=yes, approver=approver, kind=approver_type, why=rationale
    )
    if decision.kind == "severity":
        if yes:
            inc.severity_confirmed = True
            inc.acknowledged_at = decision.answered_at
            kernel.move(journal, inc, Status.PLANNING, f"severity {inc.severity} confirmed")
            journal.tell(inc, MessageKind.SEVERITY_CONFIRMED, {"approver": approver})
            journal.tell(inc, MessageKind.STATUS_UPDATE)
            journal.event(inc, "phase", phase_complete(1))
            journal.event(inc, "phase", phase_start(2))
        else:
            journal.event(
                inc,
                "alert",
                "[ALERT] Potential false-positive detected. Incident severity not confirmed.",
            )
    elif decision.kind == "mitigation":
        if not yes:
            kernel.move(journal, inc, Status.PLANNING, f"mitigation declined by {approver}")
    elif yes:
        resolve.resolve(kernel, journal, inc, approver)
    else:
        journal.event(inc, "progress", "resolution not confirmed; the incident stays open")
