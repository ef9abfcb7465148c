"""`ic gate check`: exit codes, criteria, JSON, and the thresholds."""

from __future__ import annotations

import json

from tests.conftest import assert_clean_error
from tests.workspace import Workspace


def test_gates_fail_early_then_pass_and_name_what_is_missing(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()

    early = ws.ic("gate", "check", incident, "--gate", "1")
    assert early.returncode == 1
    assert "FAIL Gate 1: Severity alignment" in early.stdout
    assert "severity-assessment.json missing" in early.stdout
    assert "Next: reassess severity" in early.stdout

    prerequisites = ws.ic("gate", "check", incident, "--gate", "prerequisites", "--json")
    assert prerequisites.returncode == 0, prerequisites.stdout
    data = json.loads(prerequisites.stdout)
    assert data["passed"] is True
    assert [c["criterion"] for c in data["gates"][0]["criteria"]] == [
        "alert source recorded",
        "deploy context recorded",
        "rollback mechanism configured",
    ]

    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    assert ws.ic("gate", "check", incident, "--gate", "1").returncode == 0
    strict = ws.ic("gate", "check", incident, "--gate", "1", "--sla", "0.00001", "--json")
    assert strict.returncode == 1
    failed = [c for c in json.loads(strict.stdout)["gates"][0]["criteria"] if not c["passed"]]
    assert failed[0]["criterion"].startswith("confirmed within 1e-05 min")

    gate2 = ws.ic("gate", "check", incident, "--gate", "2", "--json")
    assert gate2.returncode == 1
    assert json.loads(gate2.stdout)["gates"][0]["found"].startswith(
        "mitigation plan written: mitigation-plan.md missing"
    )

    all_gates = ws.ic("gate", "check", incident, "--json")
    assert [g["gate"] for g in json.loads(all_gates.stdout)["gates"]] == [
        "prerequisites",
        "1",
        "2",
        "3",
        "4",
    ]


def test_unknown_gate_is_a_clear_error(workspace: Workspace) -> None:
    workspace.configure()
    incident = workspace.declare()
    result = workspace.ic("gate", "check", incident, "--gate", "7")
    assert_clean_error(result, 2, "unknown gate '7'")


def test_close_needs_gate_four(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    result = ws.ic("close", incident, "--as", "on-call")
    assert_clean_error(result, 4, "cannot move from planning to closed")


def test_close_refuses_while_documentation_is_missing(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)
    ws.ok("validate", incident, "--yes", "--as", "on-call")
    (ws.evidence(incident) / "rca-manifest.json").unlink()

    result = ws.ic("close", incident, "--as", "on-call")

    assert_clean_error(
        result,
        4,
        "[ERROR] Required incident evidence missing.",
        "rca-manifest.json missing",
        "Hint: complete the missing documentation",
    )
    assert "[ERROR] Required incident evidence missing." in ws.read(
        incident, "incident-timeline.md"
    )
    assert json.loads(ws.ok("show", incident, "--json").stdout)["status"] == "monitoring"
