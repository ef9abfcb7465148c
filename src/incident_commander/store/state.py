"""Typed views of the incident state kept in JSON columns (``plan``, ``validation``,
``resolution``), for the keys the steps read most.

The stored JSON is unchanged: these models only read it (unknown keys are ignored), and the
steps still write the columns as plain dicts. A view is taken fresh from the row each time, so
it never goes stale against a write made in the same step.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from incident_commander.checks.base import CheckVerdict
from incident_commander.store.models import Incident

__all__ = [
    "PlanState",
    "ResolutionState",
    "ValidationAttempt",
    "ValidationState",
    "plan_of",
    "resolution_of",
    "validation_of",
]


class _View(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PlanState(_View):
    """What ``plan`` says: the options to run in order, the release to return to, the revision."""

    chosen: list[str] = Field(default_factory=list)
    target_release: str | None = None
    fix_version: str | None = None
    revision: int = 0


class ValidationAttempt(_View):
    """One recovery validation attempt, as far as the protocol reads it."""

    verdict: CheckVerdict
    critical_pass_rate: float | None = None
    critical_samples: int | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == CheckVerdict.PASSED


class ValidationState(_View):
    """Every recovery validation attempt, oldest first."""

    attempts: list[ValidationAttempt] = Field(default_factory=list)

    @property
    def latest(self) -> ValidationAttempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def passed(self) -> bool:
        """Whether the latest attempt passed (``False`` before any attempt)."""
        return self.latest is not None and self.latest.passed


class ResolutionState(_View):
    """What ``resolution`` says: the summary, the post-incident review, a false positive."""

    summary: str | None = None
    stakeholders_informed: bool = False
    review: dict[str, Any] = Field(default_factory=dict)
    false_positive: dict[str, Any] | None = None


def plan_of(inc: Incident) -> PlanState:
    return PlanState.model_validate(_or_empty(inc.plan))


def validation_of(inc: Incident) -> ValidationState:
    return ValidationState.model_validate(_or_empty(inc.validation))


def resolution_of(inc: Incident) -> ResolutionState:
    return ResolutionState.model_validate(_or_empty(inc.resolution))


def _or_empty(value: dict[str, Any] | None) -> dict[str, Any]:
    """The stored dict with its absent keys and ``null`` values alike left to the defaults."""
    return {key: item for key, item in (value or {}).items() if item is not None}
