"""Phase 1: assessing severity from recorded answers, and asking for its confirmation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from incident_commander.checks.burn_rate import BurnRateCheckConfig, assess_burn
from incident_commander.checks.promql import PromQLError
from incident_commander.clock import isoformat, utcnow
from incident_commander.errors import TransitionRejected
from incident_commander.notify.messages import MessageKind
from incident_commander.protocol.severity import Answers, classify
from incident_commander.protocol.states import Status
from incident_commander.protocol.steps import approve

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["assess"]


def _burn_check(kernel: Kernel, service: str) -> BurnRateCheckConfig | None:
    config = kernel.settings.services.get(service)
    checks = [*config.health_checks, *config.recovery_checks] if config else []
    return next((c for c in checks if isinstance(c, BurnRateCheckConfig)), None)


def measure_burn(kernel: Kernel, incident_id: str, answers: Answers) -> tuple[Answers, str | None]:
    """The answers with the SLO burn the service's burn-rate check finds now (asked outside any
    transaction: it queries Prometheus), and what was found, for the record."""
    if answers.slo_burn is not None:
        return answers, None
    with kernel.store.session() as session:
        service = kernel.load(session, incident_id, lock=False).service
    check = _burn_check(kernel, service)
    if check is None:
        return answers, None
    try:
        found = assess_burn(check)
    except PromQLError as exc:
        return answers, f"SLO burn rate unknown ({check.name}): {exc}"
    rates = [rate for rate in found.rates.values() if rate is not None]
    measured = answers.model_copy(
        update={
            "slo_burn": found.level,
            "slo_burn_rate": answers.slo_burn_rate
            if answers.slo_burn_rate is not None
            else (round(max(rates), 3) if rates else None),
        }
    )
    return measured, f"SLO burn ({check.name}): {found.describe()}"


def assess(kernel: Kernel, incident_id: str, answers: Answers, *, assessed_by: str) -> str:
    """Classify severity from recorded answers (and the SLO burn measured now), notify, and
    ask for confirmation."""
    answers, burn = measure_burn(kernel, incident_id, answers)
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
        if burn is not None:
            journal.event(inc, "severity.input", burn)
        result = classify(
            answers,
            kernel.settings.scheme,
            page_burn_is_top=kernel.settings.severity.page_burn_is_top,
        )
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
