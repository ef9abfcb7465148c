"""Prometheus check: one instant PromQL query, every series compared with a threshold."""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable
from typing import ClassVar, Literal

from pydantic import Field

from incident_commander.checks.base import Check, CheckConfig, CheckContext, CheckResult
from incident_commander.checks.promql import (
    PrometheusConfig,
    PromQLError,
    Sample,
    format_number,
    instant_query,
)
from incident_commander.clock import utcnow

__all__ = ["PrometheusCheck", "PrometheusCheckConfig"]

Comparison = Literal["<", "<=", ">", ">=", "=="]
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}
_OBSERVED_LIMIT = 300


class PrometheusCheckConfig(PrometheusConfig):
    """``query`` at ``url``; pass when every value is ``operator threshold``."""

    kind: str = "prometheus"
    query: str = Field(min_length=1, max_length=4000)
    operator: Comparison
    threshold: float
    on_empty: Literal["pass", "fail"] = "fail"


def _judge(sample: Sample, config: PrometheusCheckConfig) -> str | None:
    """Why ``sample`` fails the threshold, or ``None`` when it satisfies it."""
    if math.isnan(sample.value):
        return "NaN (not a number)"
    if math.isinf(sample.value):
        return f"{format_number(sample.value)} (not a finite number)"
    if _COMPARE[config.operator](sample.value, config.threshold):
        return None
    return format_number(sample.value)


def _verdict(samples: list[Sample], config: PrometheusCheckConfig) -> tuple[bool, str]:
    """Passed, and what was seen: the value, or which series failed and with what."""
    if not samples:
        return (
            config.on_empty == "pass",
            f"empty result (no series), which counts as {config.on_empty}",
        )
    failures = [(s, why) for s in samples if (why := _judge(s, config)) is not None]
    if len(samples) == 1 and not samples[0].labels:
        why = failures[0][1] if failures else None
        return not failures, f"value {why or format_number(samples[0].value)}"
    if not failures:
        if len(samples) == 1:
            return True, f"1 series: {samples[0].series} = {format_number(samples[0].value)}"
        return True, f"{len(samples)} series, all {config.operator} {config.threshold:g}"
    listed = ", ".join(f"{s.series} = {why}" for s, why in failures)
    return False, f"{len(failures)} of {len(samples)} series fail: {listed}"


class PrometheusCheck(Check):
    """Ask Prometheus one instant query; pass when every series satisfies the threshold."""

    slug = "prometheus"
    title = "Prometheus query"
    Config: ClassVar[type[CheckConfig]] = PrometheusCheckConfig

    def run(self, config: CheckConfig, ctx: CheckContext) -> CheckResult:
        assert isinstance(config, PrometheusCheckConfig)
        expected = (
            f"{config.query} {config.operator} {config.threshold:g} for every series "
            f"(an empty result counts as {config.on_empty})"
        )
        at = utcnow()
        start = time.monotonic()
        try:
            answer = instant_query(config, config.query, timeout_s=config.timeout_seconds)
            passed, observed = _verdict(answer.samples, config)
        except PromQLError as exc:
            passed, observed = False, str(exc)
        if len(observed) > _OBSERVED_LIMIT:
            observed = observed[: _OBSERVED_LIMIT - 1] + "…"
        return CheckResult(
            name=config.name,
            kind=self.slug,
            critical=config.critical,
            passed=passed,
            observed=observed,
            expected=expected[:_OBSERVED_LIMIT],
            at=at,
            duration_ms=round((time.monotonic() - start) * 1000, 2),
        )
