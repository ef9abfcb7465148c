"""The three approvals: asking (and letting a policy answer), answering, and what follows."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import select

from incident_commander.clock import isoformat, utcnow
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

__all__ = ["answer", "apply_answer", "ask", "expire_due", "pending_prompt"]


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
        roles = _roles_of(kernel, approver)
        if _expired(decision):
            _expire(kernel, journal, inc, decision)
            late = ApprovalNotPending(
                f"{inc.id}: the {APPROVAL_LABEL[decision.kind]} expired at "
                f"{isoformat(decision.expires_at)}; the answer of {approver} was not taken "
                f"({'asked again' if inc.pending_approval else 'the incident halted'})"
            )
        else:
            late = None
            if decision.requires:
                _vote(kernel, journal, inc, decision, yes, approver, roles, rationale)
            else:
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
    if late is not None:
        raise late
    return decision


def _roles_of(kernel: Kernel, approver: str) -> list[str]:
    """The approver's roles; with people configured, only they may answer."""
    people = kernel.settings.people
    if not people:
        return []
    person = kernel.settings.person(approver)
    if person is None:
        raise InvalidInput(
            f"{approver!r} is not among the people in ic.yaml "
            f"({', '.join(p.name for p in people)}); answer --as one of them"
        )
    return list(person.roles)


def _expired(decision: Decision, now: datetime | None = None) -> bool:
    return decision.expires_at is not None and (now or utcnow()) >= decision.expires_at


def _vote(
    kernel: Kernel,
    journal: Journal,
    inc: Incident,
    decision: Decision,
    yes: bool,
    approver: str,
    roles: list[str],
    rationale: str,
) -> None:
    """One answer to a decision that needs several roles: decide once every role said yes."""
    needed = list(decision.requires or [])
    votes = list(decision.votes or [])
    given = {role for vote in votes for role in vote["roles"]}
    open_roles = [role for role in needed if role not in given]
    mine = [role for role in roles if role in open_roles]
    label = APPROVAL_LABEL[decision.kind]
    if not mine:
        held = ", ".join(roles) or "no role"
        raise InvalidInput(
            f"{inc.id}: the {label} still needs {', '.join(open_roles)}; {approver} holds {held}"
        )
    votes.append(
        {
            "approver": approver,
            "roles": mine,
            "answer": "yes" if yes else "no",
            "at": isoformat(utcnow()),
            "rationale": rationale,
        }
    )
    decision.votes = votes
    still = [role for role in open_roles if role not in mine]
    journal.event(
        inc,
        "approval.vote",
        f"{label}: {'yes' if yes else 'no'} from {approver} ({', '.join(mine)})"
        + (f"; still needed: {', '.join(still)}" if yes and still else ""),
        {"decision_id": decision.id},
    )
    if yes and still:
        return
    who = ", ".join(f"{v['approver']} ({', '.join(v['roles'])})" for v in votes)
    why = "; ".join(f"{v['approver']}: {v['rationale']}" for v in votes if v["rationale"])
    apply_answer(
        kernel,
        journal,
        inc,
        decision,
        yes=yes,
        approver=who if yes else f"{approver} ({', '.join(mine)})",
        approver_type="people" if yes else "person",
        rationale=why,
    )


def _expire(kernel: Kernel, journal: Journal, inc: Incident, decision: Decision) -> None:
    """The prompt's deadline passed unanswered: ask again and escalate, or halt."""
    rule = kernel.settings.approvals.rule(decision.kind)
    label = APPROVAL_LABEL[decision.kind]
    decision.answer = "expired"
    decision.answered_at = utcnow()
    decision.approver = "deadline"
    decision.approver_type = "deadline"
    inc.pending_approval = None
    assert decision.expires_at is not None
    asked_for = round((decision.expires_at - decision.asked_at).total_seconds() / 60, 2)
    if rule.on_expiry == "halt":
        decision.rationale = f"no answer within {asked_for:g} min; halted"
        journal.event(inc, "approval.expired", f"{label} expired unanswered; halting")
        kernel.halt(journal, inc, f"the {label} expired after {asked_for:g} min unanswered")
        inc.resume_status = Status.PLANNING.value
        return
    to = rule.escalate_to or "everyone on the channels"
    decision.rationale = f"no answer within {asked_for:g} min; asked again, escalated to {to}"
    journal.event(inc, "approval.expired", f"{label} expired unanswered; escalating to {to}")
    journal.notify(
        inc,
        f"[ESCALATION] [{inc.severity}] {inc.service}: {label} unanswered ({inc.id})",
        f"Nobody answered the {label} of {inc.id} within {asked_for:g} min: {decision.prompt} "
        f"Answer with `ic approve {inc.id} --yes|--no --as NAME` or "
        f"POST /api/v1/incidents/{inc.id}/approvals.",
    )
    kind = cast("ApprovalKind", decision.kind)  # stored from an ApprovalKind when first asked
    journal.ask(inc, kind, decision.subject, suspect=kernel.suspect_of(journal.session, inc))


def expire_due(kernel: Kernel, *, now: datetime | None = None) -> list[str]:
    """Take the expiry path of every pending approval past its deadline; the incidents."""
    moment = now or utcnow()
    with kernel.store.session() as session:
        due = list(
            session.scalars(
                select(Decision.incident_id).where(
                    Decision.answer.is_(None),
                    Decision.expires_at.is_not(None),
                    Decision.expires_at <= moment,
                )
            )
        )
    expired = []
    for incident_id in sorted(set(due)):
        with kernel.transaction() as journal:
            inc = kernel.load(journal.session, incident_id)
            for decision in journal.session.scalars(
                select(Decision).where(
                    Decision.incident_id == incident_id,
                    Decision.answer.is_(None),
                    Decision.expires_at.is_not(None),
                    Decision.expires_at <= moment,
                )
            ).all():
                _expire(kernel, journal, inc, decision)
                expired.append(incident_id)
    return expired


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
