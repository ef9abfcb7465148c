"""`ic postmortem` records the review; the report shows it; bad input is refused."""

from __future__ import annotations

from tests.conftest import assert_clean_error
from tests.workspace import Workspace


def test_review_is_recorded_and_reported(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    early = ws.ic("postmortem", incident, "--root-cause", "x", "--as", "on-call")
    assert_clean_error(early, 4, "recorded once the incident is resolved (now detected)")
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)
    ws.ok("validate", incident, "--yes", "--as", "on-call")

    ws.ok(
        "postmortem",
        incident,
        "--as",
        "on-call",
        "--why",
        "checkout failed because /health returned 500",
        "--why",
        "v2 read a config key that production does not set",
        "--root-cause",
        "releases are not checked against production config before deploy",
        "--factor",
        "the canary stage was skipped",
        "--went-well",
        "the rollback took under a second",
        "--went-poorly",
        "nobody was paged for 3 minutes",
        "--lucky",
        "low traffic at the time",
        "--action",
        "validate config keys in CI;platform team;2026-12-15",
    )

    report = ws.read(incident, "INCIDENT-REPORT.md")
    assert "1. Why? checkout failed because /health returned 500" in report
    assert "2. Why? v2 read a config key that production does not set" in report
    assert "**Root cause:** releases are not checked against production config" in report
    assert "- the canary stage was skipped" in report
    assert "- Went poorly: nobody was paged for 3 minutes" in report
    assert "| validate config keys in CI | platform team | 2026-12-15 |" in report
    assert "post-incident review by on-call" in ws.read(incident, "incident-timeline.md")
    assert ws.ic("evidence", "verify", incident).returncode == 0

    bad = ws.ic("postmortem", incident, "--action", "no owner here")
    assert_clean_error(bad, 2, "expected 'TEXT;OWNER;YYYY-MM-DD'")
    bad_date = ws.ic("postmortem", incident, "--action", "a;b;next week")
    assert_clean_error(bad_date, 2, "actions.0.due")
    nothing = ws.ic("postmortem", incident)
    assert_clean_error(nothing, 2, "nothing to record")
