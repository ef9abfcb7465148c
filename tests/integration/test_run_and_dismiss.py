"""`ic run` drives as far as answers and policies allow; `ic dismiss` records a false positive."""

from __future__ import annotations

import json

from tests.conftest import assert_clean_error
from tests.workspace import Workspace

POLICIES = [
    {
        "name": "auto-rollback",
        "approves": ["mitigation"],
        "severities": ["SEV1"],
        "services": ["web"],
        "suspect_deploy_within_minutes": 10,
    },
    {"name": "auto-resolve", "approves": ["resolution"], "services": ["web"]},
]


def test_run_stops_for_each_missing_answer_then_finishes(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(policies=POLICIES)
    incident = ws.declare()

    first = ws.ic("run", incident, "--json")
    assert first.returncode == 8
    assert json.loads(first.stdout)["needs"] == f"a severity assessment (`ic assess {incident}`)"

    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call")
    second = ws.ic("run", incident, "--json")
    assert second.returncode == 8
    needs = json.loads(second.stdout)["needs"]
    assert needs.startswith("an answer to: [SEVERITY CONFIRMATION] Incident classified as SEV1.")

    ws.ok("approve", incident, "--yes", "--as", "on-call")
    done = ws.ic("run", incident, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {
        "incident_id": incident,
        "status": "monitoring",
        "needs": None,
        "ok": True,
    }
    assert ws.live_release() == "v1"
    decisions = ws.read_json(incident, "decision-log.json")["decisions"]
    assert [(d["kind"], d["approver"]) for d in decisions] == [
        ("severity", "on-call"),
        ("mitigation", "policy:auto-rollback"),
        ("resolution", "policy:auto-resolve"),
    ]


def test_policy_does_not_approve_outside_its_conditions(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(policies=POLICIES)
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--as", "on-call", "--yes")  # SEV2, not SEV1
    ws.ok("plan", incident)
    stopped = ws.ic("run", incident, "--json")
    assert stopped.returncode == 8
    assert "[MITIGATION APPROVAL]" in json.loads(stopped.stdout)["needs"]
    assert ws.live_release() == "v2"


def test_dismiss_records_a_false_positive_and_feeds_alert_tuning(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare("latency alert during a load test")
    result = ws.ok("dismiss", incident, "--reason", "planned load test", "--as", "on-call")
    assert "false_positive" in result.stderr
    feedback = ws.read_json(incident, "alert-tuning-feedback.json")["false_positives"]
    assert feedback[0]["reason"] == "planned load test"
    assert feedback[0]["signal"] == "latency alert during a load test"
    assert "confirmation window" in feedback[0]["suggestion"]
    timeline = ws.read(incident, "incident-timeline.md")
    assert "[ALERT] Potential false-positive detected. Incident severity not confirmed." in timeline
    assert not (ws.evidence(incident) / "resolution-summary.json").exists()
    assert ws.ic("evidence", "verify", incident).returncode == 0
    again = ws.ic("assess", incident, "--production", "--as", "on-call")
    assert_clean_error(again, 4, "cannot move from false_positive")


def test_dismiss_is_refused_once_severity_is_confirmed(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    result = ws.ic("dismiss", incident, "--reason", "nah", "--as", "on-call")
    assert_clean_error(result, 4, "cannot move from planning to false_positive")
