"""Approval policies: answers written down in config before the incident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incident_commander.config import ApprovalKind, Policy

__all__ = ["PolicyContext", "matching_policy"]


@dataclass(frozen=True)
class PolicyContext:
    """The facts a policy may depend on."""

    kind: ApprovalKind
    service: str
    severity: str | None
    first_signal_at: datetime
    suspect_deployed_at: datetime | None
    action_names: tuple[str, ...] = ()
    action_kinds: tuple[str, ...] = ()


def _holds(policy: Policy, ctx: PolicyContext) -> bool:
    if ctx.kind not in policy.approves:
        return False
    if policy.severities and ctx.severity not in policy.severities:
        return False
    if policy.services and ctx.service not in policy.services:
        return False
    if policy.suspect_deploy_within_minutes is not None:
        if ctx.suspect_deployed_at is None:
            return False
        age = (ctx.first_signal_at - ctx.suspect_deployed_at).total_seconds() / 60
        if age > policy.suspect_deploy_within_minutes:
            return False
    if policy.actions and ctx.kind == "mitigation":
        proposed = set(ctx.action_names) | set(ctx.action_kinds)
        wanted = set(policy.actions)
        if not ctx.action_names or not all(
            name in wanted or kind in wanted
            for name, kind in zip(ctx.action_names, ctx.action_kinds, strict=True)
        ):
            return False
        if not proposed & wanted:
            return False
    return True


def matching_policy(policies: list[Policy], ctx: PolicyContext) -> Policy | None:
    """The first policy whose every condition holds, or ``None``."""
    for policy in policies:
        if _holds(policy, ctx):
            return policy
    return None
