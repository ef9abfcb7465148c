"""Approval policies answer only when every condition holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident_commander.config import Policy
from incident_commander.protocol.policies import PolicyContext, matching_policy

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
POLICY = Policy(
    name="auto",
    approves=["mitigation"],
    severities=["SEV1"],
    services=["web"],
    suspect_deploy_within_minutes=30,
    actions=["release-symlink"],
)


def ctx(**changes: object) -> PolicyContext:
    values: dict[str, object] = {
        "kind": "mitigation",
        "service": "web",
        "severity": "SEV1",
        "first_signal_at": NOW,
        "suspect_deployed_at": NOW - timedelta(minutes=10),
        "action_names": ("switch",),
        "action_kinds": ("release-symlink",),
    }
    values.update(changes)
    return PolicyContext(**values)  # type: ignore[arg-type]


def test_policy_applies_when_every_condition_holds() -> None:
    assert matching_policy([POLICY], ctx()) is POLICY


def test_each_condition_can_refuse() -> None:
    assert matching_policy([POLICY], ctx(kind="severity")) is None
    assert matching_policy([POLICY], ctx(severity="SEV2")) is None
    assert matching_policy([POLICY], ctx(service="billing")) is None
    assert matching_policy([POLICY], ctx(suspect_deployed_at=None)) is None
    assert matching_policy([POLICY], ctx(suspect_deployed_at=NOW - timedelta(minutes=31))) is None
    assert (
        matching_policy([POLICY], ctx(action_names=("script-x",), action_kinds=("script",))) is None
    )
    mixed = ctx(action_names=("switch", "script-x"), action_kinds=("release-symlink", "script"))
    assert matching_policy([POLICY], mixed) is None
