"""`ic demo`: the whole incident with nobody at the keyboard, on SQLite and on PostgreSQL.

End to end: every `ic` here is the installed console script in its own process.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml

from tests.conftest import assert_clean_error, run_ic


def test_demo_recovers_the_service_and_leaves_a_complete_record(
    tmp_path: Path, database_url: str
) -> None:
    workdir = tmp_path / "demo"
    env = {} if database_url.startswith("sqlite") else {"IC_DATABASE_URL": database_url}

    result = run_ic(
        "demo", "--workdir", str(workdir), "--json", cwd=tmp_path, env=env, process=True
    )

    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    incident = summary["incident_id"]
    assert summary["status"] == "monitoring"
    assert summary["severity"] == "SEV1"
    assert summary["suspect_deploy"] == "v2"
    assert summary["action"] == "switch-release"
    assert (summary["release_before"], summary["release_after"]) == ("v2", "v1")
    assert summary["live_release"] == "v1"
    assert summary["recovered"] is True
    assert summary["gates"] == {"prerequisites": True, "1": True, "2": True, "3": True, "4": True}
    assert summary["probe_interval_s"] == 0.25 and summary["failure_threshold"] == 3
    assert 0 < summary["time_to_detect_s"] < summary["time_to_mitigate_s"]
    assert summary["time_to_mitigate_s"] < summary["time_to_recover_s"] < 30
    # the live progress went to stderr, with the phase announcements
    for phase in (1, 2, 3, 4):
        assert f"[PHASE {phase} START]" in result.stderr
    assert "[AUTOMATION] switch-release executed: succeeded" in result.stderr

    # DIR is self-contained: ic commands run there operate on the same incident.
    assert (workdir / "ic.yaml").is_file()
    if not env:
        assert (workdir / "ic.db").is_file()
    shown = run_ic("show", incident, "--json", cwd=workdir, env=env, process=True)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "monitoring"
    assert (
        run_ic("evidence", "verify", incident, cwd=workdir, env=env, process=True).returncode == 0
    )
    assert run_ic("gate", "check", incident, cwd=workdir, env=env, process=True).returncode == 0

    folder = workdir / ".artifacts" / "incidents" / incident
    decisions = json.loads((folder / "decision-log.json").read_text())["decisions"]
    assert [(d["kind"], d["answer"], d["approver"], d["approver_type"]) for d in decisions] == [
        ("severity", "yes", "policy:demo-auto-rollback", "policy"),
        ("mitigation", "yes", "policy:demo-auto-rollback", "policy"),
        ("resolution", "yes", "policy:demo-auto-resolve", "policy"),
    ]
    severity = json.loads((folder / "severity-assessment.json").read_text())
    assert severity["assessed_by"] == "health probe (automatic)"
    assert severity["answers"]["outage"] is True
    intake = (folder / "incident-intake-log.md").read_text()
    assert "health: status 500" in intake and "health-probe" in intake
    execution = json.loads((folder / "mitigation-execution-report.json").read_text())
    restart = execution["executions"][0]["commands"][1]
    assert restart["argv"][-4:-2] == ["--workdir", str(workdir.resolve())]
    assert "started pid" in restart["stdout"] and "serving releases/v1" in restart["stdout"]
    validation = json.loads((folder / "recovery-validation.json").read_text())
    assert validation["attempts"][0]["verdict"] == "passed"
    resolution = json.loads((folder / "resolution-summary.json").read_text())
    assert resolution["resolution"] == "recovered after switch-release: v2 → v1"
    assert len(resolution["extended_monitoring"]) == 4
    inbox = (workdir / "notifications.log").read_text()
    assert "[SEV1] demo-web" in inbox and "[RESOLVED] demo-web" in inbox
    report = (folder / "INCIDENT-REPORT.md").read_text()
    assert "Report completeness: 100%" in report
    assert "by policy:demo-auto-rollback (policy)" in report
    # the demo stops its service when it is done
    assert not (workdir / "run" / "service.pid").exists()
    config = yaml.safe_load((workdir / "ic.yaml").read_text())
    port = int(config["services"]["demo-web"]["url"].rsplit(":", 1)[1].strip("/"))
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_demo_refuses_a_foreign_nonempty_workdir(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = run_ic("demo", "--workdir", str(tmp_path), cwd=tmp_path, process=True)
    assert_clean_error(result, 2, "exists and is not empty")
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_demo_can_run_again_in_its_own_workdir(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    first = run_ic("demo", "--workdir", str(workdir), "--json", cwd=tmp_path, process=True)
    second = run_ic("demo", "--workdir", str(workdir), "--json", cwd=tmp_path, process=True)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["recovered"] is True
