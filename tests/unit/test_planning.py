"""The rollback-or-fix tree."""

from __future__ import annotations

import pytest

from incident_commander.protocol.planning import recommend


@pytest.mark.parametrize(
    ("top", "suspect", "known", "minutes", "decision", "last_step"),
    [
        (True, False, True, 5, "rollback", "top severity: yes → roll back now"),
        (False, True, True, 5, "rollback", "suspect deploy: yes → roll back"),
        (False, False, True, 10, "fix", "root cause known, fix in 10 min (< 15) → fix"),
        (False, False, False, None, "rollback", "fix unknown or over 30 min → roll back"),
        (False, False, True, 45, "rollback", "fix unknown or over 30 min → roll back"),
        (False, False, True, 20, "investigate", "otherwise → investigate more"),
    ],
)
def test_rollback_or_fix(
    top: bool, suspect: bool, known: bool, minutes: float | None, decision: str, last_step: str
) -> None:
    result = recommend(
        top_severity=top, suspect_deploy=suspect, root_cause_known=known, fix_minutes=minutes
    )
    assert result.decision == decision
    assert result.path[-1] == last_step
