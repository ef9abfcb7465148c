"""The whole incident by hand through the CLI, against a real service and real rollback."""

from __future__ import annotations

from tests.workspace import Workspace


def test_manual_flow_restores_service_and_records_every_step(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()

    assessed = ws.ok(
        "assess",
        incident,
        "--production",
        "--outage",
        "--component",
        "checkout",
        "--customer-impact",
        "no one can pay",
        "--as",
        "on-call",
    )
    assert "classified SEV1" in assessed.stdout
    assert "[SEVERITY CONFIRMATION] Incident classified as SEV1." in assessed.stdout
    ws.ok("approve", incident, "--yes", "--as", "on-call", "--reason", "checkout is down")

    planned = ws.ok("plan", incident)
    assert "Recommendation: rollback" in planned.stdout
    assert "[MITIGATION APPROVAL] Proposed action: roll back web to v1 via switch-release" in (
        planned.stdout
    )
    ws.ok(
        "approve",
        incident,
        "--kind",
        "mitigation",
        "--yes",
        "--as",
        "on-call",
        "--reason",
        "v2 is the suspect",
    )
    executed = ws.ok("execute", incident)
    assert "switch-release: succeeded" in executed.stdout
    assert ws.live_release() == "v1"

    validated = ws.ok("validate", incident)
    assert "Recovery validation passed" in validated.stdout
    assert "[RESOLUTION CONFIRMATION]" in validated.stdout
    ws.ok("resolve", incident, "--yes", "--as", "on-call", "--reason", "healthy for the window")

    shown = ws.ok("show", incident, "--json")
    assert '"status": "monitoring"' in shown.stdout

    # Every artifact holds what happened.
    severity = ws.read_json(incident, "severity-assessment.json")
    assert severity["severity"] == "SEV1"
    assert severity["scheme"] == "SEV1-4"
    assert severity["tree_path"] == ["production affected: yes", "service down: yes"]
    assert severity["impacted_components"] == ["checkout"]
    assert severity["confirmed"] is True
    assert severity["confirmation"]["approver"] == "on-call"
    assert severity["confirmation"]["approver_type"] == "person"
    assert severity["targets"]["response"] == "immediate"

    intake = ws.read(incident, "incident-intake-log.md")
    assert "checkout returns 500" in intake
    assert "alertmanager" in intake and "HTTP 500 on /health" in intake

    comms = ws.read(incident, "communication-log.md")
    assert "[SEV1] web: checkout returns 500" in comms
    assert "[RESOLVED] web" in comms
    assert "delivered" in comms
    inbox = (ws.root / "inbox.log").read_text()
    assert "[SEV1] web: checkout returns 500" in inbox

    plan = ws.read(incident, "mitigation-plan.md")
    assert "Suspect deploy: web v2" in plan and "commit bbb222" in plan
    assert "Last known good release: v1" in plan
    assert "| switch-release | release-symlink |" in plan
    assert "**rollback**" in plan

    readiness = ws.read_json(incident, "rollback-readiness-checklist.json")
    assert readiness["passed"] is True
    assert readiness["target_release"] == "v1"
    assert all(item["passed"] for item in readiness["items"])

    decisions = ws.read_json(incident, "decision-log.json")["decisions"]
    assert [(d["kind"], d["answer"], d["approver"]) for d in decisions] == [
        ("severity", "yes", "on-call"),
        ("mitigation", "yes", "on-call"),
        ("resolution", "yes", "on-call"),
    ]
    assert decisions[1]["rationale"] == "v2 is the suspect"

    report = ws.read_json(incident, "mitigation-execution-report.json")
    (run,) = report["executions"]
    assert run["status"] == "succeeded"
    assert (run["release_before"], run["release_after"]) == ("v2", "v1")
    assert run["approved_by_decision"] == decisions[1]["id"]
    assert run["commands"][1]["exit_code"] == 0

    validation = ws.read_json(incident, "recovery-validation.json")
    attempt = validation["attempts"][-1]
    assert attempt["verdict"] == "passed"
    assert attempt["critical_pass_rate"] >= 0.95
    assert attempt["checks"]["health"]["runs"] >= 2

    timeline = ws.read(incident, "incident-timeline.md")
    for line in (
        "[PHASE 1 START] - Monitoring production alerts for incident signals...",
        "[PHASE 2 START] - Identifying mitigation strategy for incident containment...",
        "[PHASE 3 START] - Executing approved mitigation/rollback actions...",
        "[PHASE 4 START] - Confirming incident resolution and notifying stakeholders...",
        "[PHASE 4 COMPLETE] - Resolution and documentation finished successfully.",
        "[AUTOMATION] switch-release executed: succeeded",
    ):
        assert line in timeline

    summary = ws.read_json(incident, "resolution-summary.json")
    assert summary["status"] == "monitoring"
    assert summary["confirmed_by"] == "on-call"
    assert summary["durations"]["time_to_recover_s"] > 0
    assert summary["stakeholders_informed"] is True

    manifest = ws.read_json(incident, "rca-manifest.json")
    paths = {f["path"] for f in manifest["files"]}
    assert "root-cause-inputs/deploy-history.json" in paths
    levels = {f["evidence_level"] for f in manifest["files"]}
    assert {"physics", "receipts", "artifacts"} <= levels

    incident_report = ws.read(incident, "INCIDENT-REPORT.md")
    assert "Classified **SEV1** by on-call" in incident_report
    assert "web **v2** deployed" in incident_report
    assert "**switch-release** (release-symlink): succeeded, release v2 → v1" in incident_report

    gates = ws.ic("gate", "check", incident, "--gate", "all")
    assert gates.returncode == 0, gates.stdout
    verified = ws.ic("evidence", "verify", incident)
    assert verified.returncode == 0, verified.stdout

    closed = ws.ok("close", incident, "--as", "on-call")
    assert "closed" in closed.stderr
    listed = ws.ok("list", "--status", "closed", "--json")
    assert incident in listed.stdout
