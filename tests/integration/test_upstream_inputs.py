"""Artifacts of earlier stages count when they are there: a deployment report is a deploy, a
rehearsed rollback is a readiness item, and the prerequisites gate lists what was found."""

from __future__ import annotations

import json

import pytest

from tests.conftest import assert_clean_error
from tests.workspace import Workspace

REPORT = "rollback-verification-report.json"


def _rehearsal(ws: Workspace, status: str) -> None:
    folder = ws.root / ".artifacts" / "release-21"
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "verified_at": "2026-11-20T10:00:00Z",
        "results": [{"option": "switch-release", "status": status, "duration_s": 41}],
    }
    (folder / REPORT).write_text(json.dumps(body))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_deployment_report_is_recorded_as_the_deploy(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    report = ws.root / "production-deployment-report.json"
    report.write_text(
        json.dumps(
            {
                "deployment": {
                    "service": "web",
                    "version": "v7",
                    "commit": "c0ffee1",
                    "deployed_at": "2026-11-24T09:30:00Z",
                },
                "checks": {"smoke": "passed"},
            }
        )
    )
    broken = ws.root / "broken.json"
    broken.write_text(json.dumps({"deployment": {"service": "web"}}))

    recorded = ws.ok("deploy", "record", "--from", str(report))
    refused = ws.ic("deploy", "record", "--from", str(broken))
    missing = ws.ic("deploy", "record", "--from", str(ws.root / "nope.json"))

    assert "Recorded deploy #1: web v7" in recorded.stdout
    assert_clean_error(refused, 2, "does not describe a deploy", "version")
    assert_clean_error(missing, 2, "cannot read")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_rehearsed_rollback_is_a_readiness_item_and_a_failed_one_halts(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.configure()
    _rehearsal(ws, "passed")
    first = ws.declare()
    ws.ok("assess", first, "--production", "--outage", "--as", "on-call", "--yes")
    planned = ws.ok("plan", first, "--as", "on-call")
    before = ws.read_json(first, "rollback-readiness-checklist.json")["items"]
    _rehearsal(ws, "failed")
    ws.ok("approve", first, "--no", "--as", "on-call", "--reason", "plan again")
    again = ws.ic("plan", first, "--as", "on-call")

    item = f"switch-release: rollback rehearsed ({REPORT})"
    assert {i["item"]: i["passed"] for i in before}[item] is True
    assert "Proposed action: roll back web to v1 via switch-release" in planned.stdout
    items = ws.read_json(first, "rollback-readiness-checklist.json")["items"]
    found = {i["item"]: i for i in items}
    rehearsed = found[f"switch-release: rollback rehearsed ({REPORT})"]
    assert rehearsed["passed"] is False
    assert rehearsed["detail"] == "failed on 2026-11-20T10:00:00Z"
    assert "halted" in again.stdout + again.stderr
    timeline = ws.read(first, "incident-timeline.md")
    assert f"switch-release: rollback rehearsed ({REPORT}): failed on 2026-11-20" in timeline


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_prerequisites_gate_lists_the_upstream_inputs_found(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    _rehearsal(ws, "passed")
    (ws.root / "alert-test-results.json").write_text("{}")
    incident = ws.declare()

    result = ws.ok("gate", "check", incident, "--gate", "prerequisites", "--json")

    gate = json.loads(result.stdout)["gates"][0]
    assert gate["notes"] == [
        "upstream inputs found: alert-test-results.json, rollback-verification-report.json",
        "upstream inputs missing (optional): MONITORING-PACKAGE.zip, "
        "production-deployment-report.json, incident-playbook.md",
    ]
    assert gate["passed"] is True
