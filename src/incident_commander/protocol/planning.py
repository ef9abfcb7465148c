"""Mitigation options and the rollback-or-fix decision tree."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from incident_commander.executors.base import ExecutorConfig
from incident_commander.plugins import EXECUTORS

__all__ = ["Option", "Recommendation", "options_for", "recommend"]

FIX_FAST_MINUTES = 15
FIX_SLOW_MINUTES = 30


class Option(BaseModel):
    """One way to mitigate, with what it costs and needs."""

    name: str
    kind: str
    title: str
    executable: bool
    risk: str
    reversible: bool
    expected_minutes: float
    prerequisites: list[str] = Field(default_factory=list)


class Recommendation(BaseModel):
    """What the rollback-or-fix tree says, and the path it took."""

    decision: Literal["rollback", "fix", "investigate"]
    path: list[str]


def recommend(
    *, top_severity: bool, suspect_deploy: bool, root_cause_known: bool, fix_minutes: float | None
) -> Recommendation:
    """Walk the rollback-or-fix tree of PROTOCOL §1 phase 2."""
    path: list[str] = []
    if top_severity:
        return Recommendation(decision="rollback", path=["top severity: yes → roll back now"])
    path.append("top severity: no")
    if suspect_deploy:
        return Recommendation(decision="rollback", path=[*path, "suspect deploy: yes → roll back"])
    path.append("suspect deploy: no")
    if root_cause_known and fix_minutes is not None and fix_minutes < FIX_FAST_MINUTES:
        path.append(f"root cause known, fix in {fix_minutes:g} min (< {FIX_FAST_MINUTES}) → fix")
        return Recommendation(decision="fix", path=path)
    if not root_cause_known or fix_minutes is None or fix_minutes > FIX_SLOW_MINUTES:
        path.append(f"fix unknown or over {FIX_SLOW_MINUTES} min → roll back")
        return Recommendation(decision="rollback", path=path)
    path.append("otherwise → investigate more")
    return Recommendation(decision="investigate", path=path)


def options_for(rollback_options: list[ExecutorConfig]) -> list[Option]:
    """The configured, executable options first (in config order), then the manual ones."""
    options: list[Option] = []
    for config in rollback_options:
        executor = EXECUTORS.load(config.kind)
        prerequisites = ["last known good release identified", "mechanism present and runnable"]
        if executor.has_dry_run:
            prerequisites.append("dry run passes (when configured)")
        options.append(
            Option(
                name=config.name,
                kind=config.kind,
                title=executor.title,
                executable=True,
                risk=config.risk,
                reversible=config.reversible,
                expected_minutes=config.expected_minutes,
                prerequisites=prerequisites,
            )
        )
    options.append(
        Option(
            name="hotfix",
            kind="manual",
            title="Ship a hotfix",
            executable=False,
            risk="medium: new code under pressure",
            reversible=True,
            expected_minutes=FIX_SLOW_MINUTES,
            prerequisites=["root cause known", "fix reviewed", "deploy pipeline working"],
        )
    )
    return options
