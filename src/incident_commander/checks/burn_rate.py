"""SLO burn-rate check: multi-window, multi-burn-rate alerting as the SRE workbook describes it.

The burn rate over a window is the error ratio over that window divided by the error budget
(``1 - target``): 1x spends the budget exactly over the SLO period, 14.4x spends 2% of a
30-day budget in one hour. An alert fires when both its long and its short window burn above
its factor (the long window proves it matters, the short one that it is still happening):

| level  | factor | long | short |
|--------|--------|------|-------|
| page   | 14.4   | 1h   | 5m    |
| page   | 6      | 6h   | 30m   |
| ticket | 3      | 1d   | 2h    |
| ticket | 1      | 3d   | 6h    |

``assess_burn`` returns the burn rate of every window and the level found (page, ticket or
none), for any caller that wants it as an input; the check passes while the level stays below
``fail_at`` (a page, by default), which is what a recovery check asks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from incident_commander.checks.base import Check, CheckConfig, CheckContext, CheckResult
from incident_commander.checks.durations import prometheus_duration
from incident_commander.checks.promql import (
    PrometheusClient,
    PrometheusConfig,
    PromQLError,
    format_number,
)
from incident_commander.clock import utcnow

__all__ = [
    "WORKBOOK_ALERTS",
    "BurnAlert",
    "BurnAssessment",
    "BurnRateCheck",
    "BurnRateCheckConfig",
    "assess_burn",
    "burn_level",
]

Level = Literal["page", "ticket", "none"]
WINDOW = "{window}"
_RANK: dict[str, int] = {"none": 0, "ticket": 1, "page": 2}
_OBSERVED_LIMIT = 300

Duration = Annotated[str, BeforeValidator(prometheus_duration)]


class BurnAlert(BaseModel):
    """Fire at ``level`` when both windows burn above ``factor`` times the budget."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["page", "ticket"]
    factor: float = Field(gt=0)
    long_window: Duration
    short_window: Duration

    def describe(self) -> str:
        """``14.4x over 1h and 5m``."""
        return f"{self.factor:g}x over {self.long_window} and {self.short_window}"


WORKBOOK_ALERTS = (
    BurnAlert(level="page", factor=14.4, long_window="1h", short_window="5m"),
    BurnAlert(level="page", factor=6, long_window="6h", short_window="30m"),
    BurnAlert(level="ticket", factor=3, long_window="1d", short_window="2h"),
    BurnAlert(level="ticket", factor=1, long_window="3d", short_window="6h"),
)


def _with_window(template: str) -> str:
    if WINDOW not in template:
        raise ValueError(
            f"the query must place the window with {WINDOW}, "
            'e.g. sum(rate(http_requests_total{code=~"5.."}[{window}]))'
        )
    return template


class BurnRateCheckConfig(PrometheusConfig):
    """An SLO ``target``, the errors and total queries, and the alerts to judge by."""

    kind: str = "slo-burn-rate"
    target: float = Field(gt=0, lt=1)
    errors_query: str = Field(min_length=1, max_length=4000)
    total_query: str = Field(min_length=1, max_length=4000)
    alerts: list[BurnAlert] = Field(default_factory=lambda: list(WORKBOOK_ALERTS), min_length=1)
    fail_at: Literal["page", "ticket"] = "page"

    @field_validator("errors_query", "total_query")
    @classmethod
    def _places_the_window(cls, value: str) -> str:
        return _with_window(value)

    @model_validator(mode="after")
    def _an_alert_can_fail(self) -> BurnRateCheckConfig:
        if not any(_RANK[alert.level] >= _RANK[self.fail_at] for alert in self.alerts):
            raise ValueError(f"fail_at is {self.fail_at!r} but no alert has that level or above")
        return self

    def windows(self) -> list[str]:
        """Every window the alerts name, once each, long before short, in the alerts' order."""
        seen: list[str] = []
        for alert in self.alerts:
            for window in (alert.long_window, alert.short_window):
                if window not in seen:
                    seen.append(window)
        return seen


@dataclass(frozen=True)
class BurnAssessment:
    """The burn rate of each window (``None``: no traffic in it) and the level it reaches."""

    level: Level
    rates: dict[str, float | None]
    tripped: list[BurnAlert]

    def describe(self) -> str:
        """``1h: 16.2x, 5m: 15.0x, ... → page (14.4x over 1h and 5m)``."""
        shown = ", ".join(f"{window}: {_rate(rate)}" for window, rate in self.rates.items())
        why = "; ".join(a.describe() for a in self.tripped if a.level == self.level)
        return f"{shown} → {self.level}" + (f" ({why})" if why else "")

    def as_dict(self) -> dict[str, object]:
        """The assessment as a record: level, burn rate per window, the alerts that fired."""
        return {
            "level": self.level,
            "burn_rates": dict(self.rates),
            "tripped": [alert.model_dump() for alert in self.tripped],
        }


def _rate(rate: float | None) -> str:
    if rate is None:
        return "no traffic"
    return f"{rate:.1f}x" if rate >= 1 or rate == 0 else f"{rate:.2f}x"


def burn_level(
    rates: dict[str, float | None], alerts: list[BurnAlert]
) -> tuple[Level, list[BurnAlert]]:
    """The highest level whose alert has both windows above its factor, and those alerts."""
    tripped = [
        alert
        for alert in alerts
        if all(
            (rate := rates.get(window)) is not None and rate > alert.factor
            for window in (alert.long_window, alert.short_window)
        )
    ]
    level: Level = "none"
    for alert in tripped:
        if _RANK[alert.level] > _RANK[level]:
            level = alert.level
    return level, tripped


def _one_number(
    client: PrometheusClient, query: str, *, timeout_s: float, deadline: float, at: float
) -> float | None:
    """The single value ``query`` answers; ``None`` for an empty vector."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise PromQLError(f"no answer within {timeout_s:g} s (the check's timeout)")
    answer = client.query(query, timeout_s=remaining, at=at)
    if not answer.samples:
        return None
    if len(answer.samples) > 1:
        raise PromQLError(
            f"the query {query!r} answered {len(answer.samples)} series; "
            "aggregate it to one (e.g. with sum)"
        )
    value = answer.samples[0].value
    if math.isnan(value) or math.isinf(value):
        raise PromQLError(f"the query {query!r} answered {format_number(value)}, not a number")
    return value


def assess_burn(config: BurnRateCheckConfig, *, at: float | None = None) -> BurnAssessment:
    """Ask Prometheus the errors and total of every window (all at one instant) and judge.

    Raises ``PromQLError`` when a query gives no usable number. An errors query with an empty
    answer counts as no errors; a total that is empty or zero is a window without traffic.
    """
    deadline = time.monotonic() + config.timeout_seconds
    when = time.time() if at is None else at
    budget = 1 - config.target
    rates: dict[str, float | None] = {}
    with PrometheusClient(config) as client:

        def ask(template: str, window: str) -> float | None:
            return _one_number(
                client,
                template.replace(WINDOW, window),
                timeout_s=config.timeout_seconds,
                deadline=deadline,
                at=when,
            )

        for window in config.windows():
            total = ask(config.total_query, window)
            if not total:  # no request in the window: nothing burned, nothing to divide by
                rates[window] = None
                continue
            errors = ask(config.errors_query, window) or 0.0
            rates[window] = errors / total / budget
    level, tripped = burn_level(rates, config.alerts)
    return BurnAssessment(level=level, rates=rates, tripped=tripped)


class BurnRateCheck(Check):
    """Pass while the SLO's error budget burns below the ``fail_at`` level (a page)."""

    slug = "slo-burn-rate"
    title = "SLO burn rate"
    Config: ClassVar[type[CheckConfig]] = BurnRateCheckConfig

    def run(self, config: CheckConfig, ctx: CheckContext) -> CheckResult:
        assert isinstance(config, BurnRateCheckConfig)
        levels = [a for a in config.alerts if _RANK[a.level] >= _RANK[config.fail_at]]
        expected = (
            f"no {config.fail_at}-level burn of the {config.target * 100:g}% SLO ("
            + "; ".join(a.describe() for a in levels)
            + ")"
        )
        at = utcnow()
        start = time.monotonic()
        try:
            assessment = assess_burn(config)
            passed = _RANK[assessment.level] < _RANK[config.fail_at]
            observed = assessment.describe()
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
