"""Health probes: run a service's checks on an interval; F failures in a row make a signal.

With ``probe.after_deploy`` configured and a way to learn of deploys, the interval and F are
those of the after-deploy pace for a while after each deploy (see ``watch/pace.py``), and the
signal says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from incident_commander.alerts.signal import AlertSignal
from incident_commander.checks.base import CheckConfig, CheckResult
from incident_commander.checks.window import run_check
from incident_commander.clock import isoformat, utcnow
from incident_commander.config import ServiceConfig
from incident_commander.watch.pace import DeployMark, ProbePace, probe_pace

__all__ = ["ProbeSignal", "probe_alert", "probe_recovered", "probe_round", "watch_service"]


@dataclass(frozen=True)
class ProbeSignal:
    """The failure streak that crossed the threshold."""

    service: str
    first_failure_at: datetime
    threshold_reached_at: datetime
    consecutive_failures: int
    results: list[CheckResult]
    pace: ProbePace | None = None  # the pace of the round that crossed the threshold

    @property
    def all_critical_failing(self) -> bool:
        critical = [r for r in self.results if r.critical]
        return bool(critical) and not any(r.passed for r in critical)


def _failing(results: Sequence[CheckResult]) -> list[int]:
    return [i for i, r in enumerate(results) if r.critical and not r.passed]


def probe_round(checks: Sequence[CheckConfig], rechecks: int = 0) -> list[CheckResult]:
    """Run every check once; a failing critical check is run again up to ``rechecks`` times
    at once, and the round keeps its last result (so it fails only if every try failed)."""
    results = [run_check(check) for check in checks]
    for _ in range(rechecks):
        failing = _failing(results)
        if not failing:
            break
        for index in failing:
            # The retry answers whether it failed; the first try keeps when it was seen.
            retry = run_check(checks[index])
            results[index] = retry.model_copy(update={"at": results[index].at})
    return results


def watch_service(
    name: str,
    service: ServiceConfig,
    *,
    stop: threading.Event | None = None,
    deploys: Callable[[], DeployMark | None] | None = None,
) -> ProbeSignal | None:
    """Probe until a failure streak reaches the threshold of the current pace (or ``stop``).

    ``deploys`` answers the service's latest deploy (``pace.LatestDeploy`` reads it from the
    store at most once per normal interval); without it, or without ``probe.after_deploy``,
    every round keeps the normal pace. At the after-deploy pace only the rounds since the
    deploy make the streak: a failure seen before it was not caused by it.
    """
    stop = stop or threading.Event()
    settings = service.probe
    learn = deploys if settings.after_deploy is not None else None
    streak: list[list[CheckResult]] = []
    while not stop.is_set():
        started = time.monotonic()
        pace = probe_pace(settings, learn() if learn else None, utcnow())
        if pace.deploy is not None:  # after a deploy, only failures since it count
            since = pace.deploy.deployed_at
            streak = [rnd for rnd in streak if rnd[0].at >= since]
        results = probe_round(service.health_checks, pace.rechecks)
        if _failing(results):
            streak.append(results)
            if len(streak) >= pace.failure_threshold:
                return ProbeSignal(
                    service=name,
                    first_failure_at=streak[0][0].at,
                    threshold_reached_at=utcnow(),
                    consecutive_failures=len(streak),
                    results=results,
                    pace=pace,
                )
        else:
            streak = []
        stop.wait(max(0.0, started + pace.interval_seconds - time.monotonic()))
    return None


def probe_alert(signal: ProbeSignal) -> AlertSignal:
    """The alert a failure streak raises; it enters the protocol through the alert intake."""
    failing = "; ".join(f"{r.name}: {r.observed}" for r in signal.results if not r.passed)
    summary = f"{signal.service} health checks failing: {failing}"
    if signal.pace is not None and signal.pace.deploy_aware:
        summary += f" ({signal.pace.describe()})"
    alert = _probe_alert(signal.service, "firing", summary, signal.all_critical_failing)
    alert.starts_at = signal.first_failure_at
    alert.annotations.update(
        consecutive_failures=str(signal.consecutive_failures),
        threshold_reached_at=isoformat(signal.threshold_reached_at) or "",
        expected="; ".join(f"{r.name}: {r.expected}" for r in signal.results if not r.passed),
    )
    if signal.pace is not None:
        alert.annotations["probing"] = signal.pace.describe()
    return alert


def probe_recovered(service: str) -> AlertSignal:
    """The alert that clears a probe's alert once its critical checks pass again."""
    return _probe_alert(service, "resolved", f"{service} health checks pass again", False)


def _probe_alert(service: str, status: str, summary: str, critical: bool) -> AlertSignal:
    return AlertSignal(
        source="health-probe",
        fingerprint=f"probe:{service}"[:128],
        status=status,
        labels={
            "alertname": "HealthCheckFailing",
            "service": service,
            "severity": "critical" if critical else "warning",
        },
        annotations={"summary": summary},
        summary=summary,
        starts_at=utcnow(),
    )
