"""Mitigation options and the rollback-or-fix decision tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from incident_commander.executors.base import ExecutorConfig
from incident_commander.plugins import EXECUTORS

__all__ = ["Option", "Recommendation", "choose", "incident_kinds", "options_for", "recommend"]

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
    purpose: str = "rollback"
    caveats: list[str] = Field(default_factory=list)


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


def incident_kinds(answers: Mapping[str, Any] | None, *, suspect_deploy: bool) -> list[str]:
    """What kind of incident the assessment describes; containment options are chosen by it."""
    found = answers or {}
    kinds = ["bad-deploy"] if suspect_deploy else []
    if found.get("security_compromised"):
        kinds.append("security")
    if found.get("data_loss"):
        kinds.append("data-corruption")
    if found.get("deploys_blocked"):
        kinds.append("blocked-deploys")
    return kinds


def choose(
    configs: list[ExecutorConfig], *, decision: str, kinds: list[str]
) -> tuple[list[str], list[str]]:
    """The options to run in order, and why: containment for the incident's kinds first, then
    what the rollback-or-fix tree says (a fix falls back to rolling back)."""
    why: list[str] = []
    containment = [
        c.name for c in configs if c.purpose == "containment" and set(c.incidents) & set(kinds)
    ]
    if containment:
        why.append(f"contain first ({', '.join(kinds)}): {', '.join(containment)}")
    rollback = [c.name for c in configs if c.purpose == "rollback"]
    fixes = [c.name for c in configs if c.purpose == "fix"]
    if decision == "rollback":
        main = rollback
    elif decision == "fix":
        main = fixes + rollback
        if fixes:
            why.append(f"fix forward: {', '.join(fixes)}; if it fails, roll back")
    else:
        main = []
    return containment + main, why


def _prerequisites(config: ExecutorConfig, has_dry_run: bool) -> list[str]:
    if config.purpose == "fix":
        needs = ["fix version exists", "fix version tested", "a rollback plan for the fix exists"]
    elif config.purpose == "containment":
        needs = ["mechanism present and runnable"]
    else:
        needs = ["last known good release identified", "mechanism present and runnable"]
    if has_dry_run:
        needs.append("dry run passes (when configured)")
    return needs


def options_for(rollback_options: list[ExecutorConfig]) -> list[Option]:
    """The configured, executable options first (in config order), then the manual ones."""
    options: list[Option] = []
    for config in rollback_options:
        executor = EXECUTORS.load(config.kind)
        options.append(
            Option(
                name=config.name,
                kind=config.kind,
                title=executor.title,
                executable=True,
                risk=config.risk,
                reversible=config.reversible,
                expected_minutes=config.expected_minutes,
                prerequisites=_prerequisites(config, executor.has_dry_run),
                purpose=config.purpose,
                caveats=executor().caveats(config),
            )
        )
    if any(config.purpose == "fix" for config in rollback_options):
        return options
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
            purpose="fix",
        )
    )
    return options
