"""Recovery validation: sample every check over a window and judge the critical pass rate."""

from __future__ import annotations

import time
from typing import Any

from incident_commander.checks.base import CheckConfig, CheckContext, CheckResult, CheckVerdict
from incident_commander.clock import isoformat, utcnow
from incident_commander.plugins import CHECKS

__all__ = ["run_check", "validate_window"]


def run_check(config: CheckConfig, ctx: CheckContext | None = None) -> CheckResult:
    """Run one configured check through its plugin."""
    check = CHECKS.load(config.kind)()
    return check.run(config, ctx or CheckContext())


def validate_window(
    checks: list[CheckConfig],
    *,
    window_s: float,
    interval_s: float,
    threshold: float,
    ctx: CheckContext | None = None,
) -> dict[str, Any]:
    """Run every check each ``interval_s`` for ``window_s``; pass when the share of passing
    critical samples reaches ``threshold``. Returns the attempt as recorded in the evidence."""
    started = utcnow()
    deadline = time.monotonic() + window_s
    samples: list[CheckResult] = []
    while True:
        round_start = time.monotonic()
        samples.extend(run_check(check, ctx) for check in checks)
        if round_start + interval_s >= deadline:
            remaining = deadline - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
            samples.extend(run_check(check, ctx) for check in checks)
            break
        time.sleep(max(0.0, round_start + interval_s - time.monotonic()))
    per_check: dict[str, dict[str, Any]] = {}
    for check in checks:
        runs = [s for s in samples if s.name == check.name]
        passed = sum(s.passed for s in runs)
        per_check[check.name] = {
            "kind": check.kind,
            "critical": check.critical,
            "runs": len(runs),
            "passed": passed,
            "pass_rate": round(passed / len(runs), 4) if runs else 0.0,
            "expected": runs[-1].expected if runs else None,
            "last_observed": runs[-1].observed if runs else None,
        }
    critical = [s for s in samples if s.critical]
    rate = sum(s.passed for s in critical) / len(critical) if critical else 0.0
    return {
        "started_at": isoformat(started),
        "finished_at": isoformat(utcnow()),
        "window_seconds": window_s,
        "interval_seconds": interval_s,
        "threshold": threshold,
        "critical_samples": len(critical),
        "critical_pass_rate": round(rate, 4),
        "verdict": (
            CheckVerdict.PASSED if critical and rate >= threshold else CheckVerdict.FAILED
        ).value,
        "checks": per_check,
        "samples": [{**s.model_dump(mode="json"), "at": isoformat(s.at)} for s in samples],
    }
