"""HTTP check: status code, latency and an optional body match."""

from __future__ import annotations

import time
from typing import ClassVar

import httpx
from pydantic import Field

from incident_commander.checks.base import Check, CheckConfig, CheckContext, CheckResult
from incident_commander.clock import utcnow

__all__ = ["HttpCheck", "HttpCheckConfig"]


class HttpCheckConfig(CheckConfig):
    """A GET against ``url``."""

    kind: str = "http"
    url: str = Field(pattern=r"^https?://")
    expect_status: int = 200
    max_latency_ms: float | None = None
    body_contains: str | None = None


class HttpCheck(Check):
    """GET a URL; pass on the expected status, within the latency budget, with the body text."""

    slug = "http"
    title = "HTTP check"
    Config: ClassVar[type[CheckConfig]] = HttpCheckConfig

    def run(self, config: CheckConfig, ctx: CheckContext) -> CheckResult:
        assert isinstance(config, HttpCheckConfig)
        expected = [f"status {config.expect_status}"]
        if config.max_latency_ms is not None:
            expected.append(f"latency <= {config.max_latency_ms:g} ms")
        if config.body_contains is not None:
            expected.append(f"body contains {config.body_contains!r}")
        at = utcnow()
        start = time.monotonic()
        try:
            response = httpx.get(config.url, timeout=config.timeout_seconds)
        except httpx.HTTPError as exc:
            elapsed = (time.monotonic() - start) * 1000
            return CheckResult(
                name=config.name,
                kind=self.slug,
                critical=config.critical,
                passed=False,
                observed=f"{type(exc).__name__}: {exc}"[:300],
                expected=", ".join(expected),
                at=at,
                duration_ms=round(elapsed, 2),
            )
        elapsed = (time.monotonic() - start) * 1000
        passed = response.status_code == config.expect_status
        if config.max_latency_ms is not None and elapsed > config.max_latency_ms:
            passed = False
        if config.body_contains is not None and config.body_contains not in response.text:
            passed = False
        return CheckResult(
            name=config.name,
            kind=self.slug,
            critical=config.critical,
            passed=passed,
            observed=f"status {response.status_code}, latency {elapsed:.1f} ms",
            expected=", ".join(expected),
            at=at,
            duration_ms=round(elapsed, 2),
        )
