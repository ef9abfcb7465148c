"""Phase 3: validating recovery over a window; confirm the resolution on pass, re-plan on fail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incident_commander.checks.base import CheckContext, CheckVerdict
from incident_commander.checks.window import validate_window
from incident_commander.clock import isoformat, utcnow
from incident_commander.errors import TransitionRejected
from incident_commander.notify.messages import MessageKind
from incident_commander.protocol.journal import phase_complete, phase_start
from incident_commander.protocol.states import Status
from incident_commander.protocol.steps import approve

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["validate"]


def validate(kernel: Kernel, incident_id: str) -> dict[str, Any]:
    """Sample the service's checks over the window; resolve-confirm on pass, re-plan on fail."""
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        if inc.status != Status.VALIDATING or inc.pending_approval:
            raise TransitionRejected(
                f"{inc.id}: validation needs status validating with nothing pending "
                f"(now {inc.status}; pending: {inc.pending_approval or 'nothing'})"
            )
        service = kernel.settings.services.get(inc.service)
        checks = [*service.health_checks, *service.recovery_checks] if service else []
        journal.event(inc, "progress", "Validating post-mitigation system health...")
        if not checks:
            kernel.halt(journal, inc, f"no health checks configured for service {inc.service}")
            return {}
    settings = kernel.settings.validation
    with kernel.behind():
        attempt = validate_window(
            checks,
            window_s=settings.window_seconds,
            interval_s=settings.interval_seconds,
            threshold=settings.threshold,
            ctx=CheckContext(store=kernel.store, incident_id=incident_id, service=inc.service),
        )
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        attempts = list((inc.validation or {}).get("attempts", []))
        attempts.append(attempt)
        inc.validation = {"attempts": attempts, "latest_verdict": attempt["verdict"]}
        rate = attempt["critical_pass_rate"] * 100
        summary = (
            f"critical checks passed {rate:.1f}% of {attempt['critical_samples']} samples over "
            f"{attempt['window_seconds']:g} s (threshold {attempt['threshold'] * 100:.0f}%)"
        )
        journal.event(
            inc,
            "automation",
            f"[AUTOMATION] recovery validation executed: {attempt['verdict']}; {summary}",
        )
        if attempt["verdict"] == CheckVerdict.PASSED:
            inc.recovered_at = utcnow()
            journal.event(inc, "phase", phase_complete(3))
            journal.event(inc, "phase", phase_start(4))
            journal.tell(inc, MessageKind.RECOVERY_VERIFIED, {"summary": summary})
            approve.ask(
                kernel,
                journal,
                inc,
                "resolution",
                "system stabilized",
                policy_says="confirms resolution after passed validation",
            )
        else:
            assert inc.severity is not None
            raised = kernel.settings.scheme.raised(inc.severity)
            if raised != inc.severity:
                history = list((inc.assessment or {}).get("history", []))
                history.append(
                    {
                        "from": inc.severity,
                        "to": raised,
                        "at": isoformat(utcnow()),
                        "reason": "recovery validation failed",
                    }
                )
                inc.assessment = {**(inc.assessment or {}), "history": history}
                journal.event(inc, "severity.raised", f"severity raised {inc.severity} → {raised}")
                inc.severity = raised
            kernel.move(journal, inc, Status.PLANNING, f"recovery validation failed: {summary}")
            journal.tell(inc, MessageKind.RECOVERY_FAILED, {"summary": summary})
            journal.tell(inc, MessageKind.STATUS_UPDATE)
        return attempt
