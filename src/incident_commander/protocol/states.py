"""The lifecycle as data: statuses, the table of allowed moves, and what each move requires."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "REQUIREMENT_TEXT",
    "RULES",
    "TERMINAL",
    "Facts",
    "Rule",
    "Status",
    "Verdict",
    "judge",
]


class Status(StrEnum):
    DETECTED = "detected"
    TRIAGED = "triaged"
    PLANNING = "planning"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    VALIDATING = "validating"
    RESOLVED = "resolved"
    MONITORING = "monitoring"
    CLOSED = "closed"
    FALSE_POSITIVE = "false_positive"
    REOPENED = "reopened"
    HALTED = "halted"


TERMINAL = frozenset({Status.CLOSED, Status.FALSE_POSITIVE})


@dataclass(frozen=True)
class Facts:
    """What is true of an incident now, as far as the move table cares."""

    severity_assessed: bool = False
    severity_confirmed: bool = False
    plan_written: bool = False
    readiness_passed: bool = False
    mitigation_approved: bool = False
    execution_succeeded: bool = False
    validation_passed: bool = False
    resolution_confirmed: bool = False
    documentation_complete: bool = False


REQUIREMENT_TEXT = {
    "severity_assessed": "severity has not been assessed (run `ic assess`)",
    "severity_confirmed": "severity has not been confirmed ([SEVERITY CONFIRMATION] unanswered)",
    "plan_written": "no mitigation plan has been written (run `ic plan`)",
    "readiness_passed": "the rollback readiness checklist has not passed",
    "mitigation_approved": "no approval of the proposed mitigation is recorded",
    "execution_succeeded": "no mitigation has succeeded",
    "validation_passed": "recovery validation has not passed",
    "resolution_confirmed": "resolution has not been confirmed",
    "documentation_complete": "required incident evidence is missing (gate 4)",
}


@dataclass(frozen=True)
class Rule:
    """A move from any of ``sources`` to ``target``, allowed when every requirement holds."""

    sources: frozenset[Status]
    target: Status
    requires: tuple[str, ...] = ()


_OPEN = frozenset(Status) - TERMINAL - {Status.HALTED}

RULES: tuple[Rule, ...] = (
    Rule(frozenset({Status.DETECTED, Status.REOPENED}), Status.TRIAGED, ("severity_assessed",)),
    Rule(frozenset({Status.TRIAGED}), Status.PLANNING, ("severity_confirmed",)),
    Rule(
        frozenset({Status.PLANNING}),
        Status.AWAITING_APPROVAL,
        ("severity_confirmed", "plan_written", "readiness_passed"),
    ),
    Rule(frozenset({Status.AWAITING_APPROVAL}), Status.PLANNING),
    Rule(
        frozenset({Status.AWAITING_APPROVAL}),
        Status.EXECUTING,
        ("severity_confirmed", "mitigation_approved"),
    ),
    Rule(frozenset({Status.EXECUTING}), Status.VALIDATING, ("execution_succeeded",)),
    Rule(frozenset({Status.EXECUTING, Status.VALIDATING}), Status.PLANNING),
    Rule(
        frozenset({Status.VALIDATING}),
        Status.RESOLVED,
        ("validation_passed", "resolution_confirmed"),
    ),
    Rule(frozenset({Status.RESOLVED}), Status.MONITORING),
    Rule(
        frozenset({Status.RESOLVED, Status.MONITORING}),
        Status.CLOSED,
        ("documentation_complete",),
    ),
    Rule(frozenset({Status.RESOLVED, Status.MONITORING, Status.CLOSED}), Status.REOPENED),
    Rule(frozenset({Status.DETECTED, Status.TRIAGED, Status.REOPENED}), Status.FALSE_POSITIVE),
    Rule(_OPEN, Status.HALTED),
)


@dataclass(frozen=True)
class Verdict:
    """Whether a move is allowed, and why not when it is not."""

    accepted: bool
    reason: str = ""


def judge(
    current: Status,
    target: Status,
    facts: Facts,
    *,
    resume_status: Status | None = None,
    by_person: bool = False,
) -> Verdict:
    """Check a move against the table.

    A halted incident may only resume where it stopped, or be dismissed as a false positive
    by a person (``by_person``): someone must always be able to end an incident that cannot go
    on (declared on the wrong service, say) with a recorded reason; automation may not.
    """
    if current == Status.HALTED:
        dismissed = target == Status.FALSE_POSITIVE and by_person
        if target in (resume_status, Status.HALTED) or dismissed:
            return Verdict(True)
        return Verdict(False, f"the incident is halted; it resumes to {resume_status}")
    candidates = [rule for rule in RULES if current in rule.sources and rule.target == target]
    if not candidates:
        allowed = sorted({rule.target.value for rule in RULES if current in rule.sources})
        return Verdict(
            False,
            f"cannot move from {current} to {target} (allowed: {', '.join(allowed) or 'none'})",
        )
    missing = [name for name in candidates[0].requires if not getattr(facts, name)]
    if missing:
        return Verdict(False, "; ".join(REQUIREMENT_TEXT[name] for name in missing))
    return Verdict(True)
