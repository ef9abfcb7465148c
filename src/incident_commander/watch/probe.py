"""Health probes: run a service's checks on an interval; F failures in a row make a signal."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from incident_commander.checks.base import CheckResult
from incident_commander.checks.window import run_check
from incident_commander.clock import isoformat, utcnow
from incident_commander.config import ServiceConfig
from incident_commander.protocol.engine import Engine

__all__ = ["ProbeSignal", "declare_from_probe", "watch_service"]


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


def outage_proposal(service: str) -> dict[str, Any]:
    """What a probe that saw every critical check fail proposes: production is down."""
    return {
        "answers": {
            "production_affected": True,
            "outage": True,
            "impacted_components": [service],
            "customer_impact": "every request to the service fails its health check",
        },
        "by": "health probe",
    }


def declare_from_probe(engine: Engine, signal: ProbeSignal) -> str:
    """Open an incident from a probe signal."""
    failing = [r for r in signal.results if not r.passed]
    return engine.declare(
        title=f"{signal.service}: health checks failing ({signal.consecutive_failures} in a row)",
        service=signal.service,
        source="health-probe",
        detected_by="ic health probe",
        symptoms=[f"{r.name}: {r.observed} (expected {r.expected})" for r in failing],
        first_signal_at=signal.first_failure_at,
        details={
            "first_failure_at": isoformat(signal.first_failure_at),
            "threshold_reached_at": isoformat(signal.threshold_reached_at),
            "consecutive_failures": signal.consecutive_failures,
            "all_critical_failing": signal.all_critical_failing,
            **(
                {"proposed_answers": outage_proposal(signal.service)}
                if signal.all_critical_failing
                else {}
            ),
            "results": [r.model_dump(mode="json") for r in signal.results],
        },
    )
