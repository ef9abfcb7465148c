"""Health probes: run a service's checks on an interval; F failures in a row make a signal."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from incident_commander.alerts.signal import AlertSignal
from incident_commander.checks.base import CheckResult
from incident_commander.checks.window import run_check
from incident_commander.clock import isoformat, utcnow
from incident_commander.config import ServiceConfig

__all__ = ["ProbeSignal", "probe_alert", "probe_recovered", "watch_service"]


@dataclass(frozen=True)
class ProbeSignal:
    """The failure streak that crossed the threshold."""

    service: str
    first_failure_at: datetime
    threshold_reached_at: datetime
    consecutive_failures: int
    results: list[CheckResult]

    @property
    def all_critical_failing(self) -> bool:
        critical = [r for r in self.results if r.critical]
        return bool(critical) and not any(r.passed for r in critical)


def watch_service(
    name: str, service: ServiceConfig, *, stop: threading.Event | None = None
) -> ProbeSignal | None:
    """Probe until ``failure_threshold`` consecutive rounds fail a critical check (or ``stop``)."""
    stop = stop or threading.Event()
    interval = service.probe.interval_seconds
    threshold = service.probe.failure_threshold
    streak: list[list[CheckResult]] = []
    while not stop.is_set():
        started = time.monotonic()
        results = [run_check(check) for check in service.health_checks]
        if any(r.critical and not r.passed for r in results):
            streak.append(results)
            if len(streak) >= threshold:
                return ProbeSignal(
                    service=name,
                    first_failure_at=streak[0][0].at,
                    threshold_reached_at=utcnow(),
                    consecutive_failures=len(streak),
                    results=results,
                )
        else:
            streak = []
        stop.wait(max(0.0, started + interval - time.monotonic()))
    return None


def probe_alert(signal: ProbeSignal) -> AlertSignal:
    """The alert a failure streak raises; it enters the protocol through the alert intake."""
    failing = "; ".join(f"{r.name}: {r.observed}" for r in signal.results if not r.passed)
    summary = f"{signal.service} health checks failing: {failing}"
    alert = _probe_alert(signal.service, "firing", summary, signal.all_critical_failing)
    alert.starts_at = signal.first_failure_at
    alert.annotations.update(
        consecutive_failures=str(signal.consecutive_failures),
        threshold_reached_at=isoformat(signal.threshold_reached_at) or "",
        expected="; ".join(f"{r.name}: {r.expected}" for r in signal.results if not r.passed),
    )
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
