"""Diagnostics: each service's commands and pages run when an incident opens and on
`ic diagnose`, archived as receipts with exit code and time, bounded, redacted, cited by the
plan and the report, and never holding up the rollback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.server import Server, am_alert, am_payload
from tests.workspace import Workspace

TOKEN = "tok-5d0c93b1e2aa41"
POLICIES = [
    {"name": "auto", "approves": ["severity", "mitigation"], "services": ["web"]},
    {"name": "auto-resolve", "approves": ["resolution"], "services": ["web"]},
]


def _diagnostics(ws: Workspace, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": "disk", "argv": ["df", "-h"], "timeout_seconds": 10},
        {"name": "health", "url": f"http://127.0.0.1:{ws.port}/health", "timeout_seconds": 5},
        *extra,
    ]


def _inputs(ws: Workspace, incident: str) -> dict[str, dict[str, Any]]:
    """The manifest's diagnostic entries by the diagnostic's name (the file name's tail)."""
    files = ws.read_json(incident, "rca-manifest.json")["files"]
    return {
        f["path"].split("diagnostic-", 1)[-1].removesuffix(".log"): f
        for f in files
        if f["kind"] == "diagnostic"
    }


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_diagnostics_run_when_an_incident_is_declared(workspace: Workspace) -> None:
    ws = workspace
    leak = {
        "name": "env",
        "argv": [sys.executable, "-c", "import os; print('token=' + os.environ['DEPLOY_TOKEN'])"],
    }
    ws.configure(service_extra={"diagnostics": _diagnostics(ws, leak)})
    ws.ic("deploy", "record", "--service", "web", "--version", "v2")
    declared = ws.ic(
        "declare", "--title", "500s", "--service", "web", "--json", env={"DEPLOY_TOKEN": TOKEN}
    )
    assert declared.returncode == 0, declared.stderr
    incident = json.loads(declared.stdout)["incident_id"]  # stdout stays one JSON document

    found = _inputs(ws, incident)
    assert set(found) == {"disk", "health", "env"}
    folder = ws.evidence(incident)
    disk = (folder / found["disk"]["path"]).read_text()
    assert disk.startswith("$ df -h\n# exit code: 0") and "Filesystem" in disk
    assert found["disk"]["exit_code"] == 0
    assert found["disk"]["evidence_level"] == "receipts"
    assert found["disk"]["added_by"] == "ic (diagnostics)"
    assert _at(found["disk"]["gathered_at"]) <= _at(found["disk"]["added_at"])
    health = (folder / found["health"]["path"]).read_text()
    assert "# HTTP 500" in health  # the bad release v2 is live
    assert found["health"]["exit_code"] == 1
    env = (folder / found["env"]["path"]).read_text()
    assert TOKEN not in env and "token=[REDACTED]" in env
    assert "root-cause input" in declared.stderr  # shown as they are sealed
    timeline = ws.read(incident, "incident-timeline.md")
    assert timeline.count("evidence.input") == 3
    assert ws.ic("evidence", "verify", incident).returncode == 0


def test_ic_diagnose_runs_again_clips_and_is_cited_by_plan_and_report(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.configure(policies=POLICIES, service_extra={"diagnostics": _diagnostics(ws)})
    incident = ws.declare()
    huge = {
        "name": "huge",
        "argv": [sys.executable, "-c", "print('z' * 10_000_000)"],
        "max_bytes": 4096,
    }
    ws.configure(policies=POLICIES, service_extra={"diagnostics": _diagnostics(ws, huge)})

    again = ws.ic("diagnose", incident, "--json")

    assert again.returncode == 0, again.stderr
    entries = json.loads(again.stdout)["inputs"]
    assert [e["path"] for e in entries] == [
        "root-cause-inputs/03-diagnostic-disk.log",
        "root-cause-inputs/04-diagnostic-health.log",
        "root-cause-inputs/05-diagnostic-huge.log",
    ]
    clipped = ws.evidence(incident) / entries[2]["path"]
    assert clipped.stat().st_size <= 4096
    assert "more bytes cut at 4096 bytes" in clipped.read_text()
    assert entries[2]["clipped"] is True and entries[2]["exit_code"] == 0

    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call")
    ws.ok("run", incident)
    plan = ws.read(incident, "mitigation-plan.md")
    assert (
        "- Evidence gathered: `01-diagnostic-disk.log` (exit 0), "
        "`02-diagnostic-health.log` (exit 1), "
    ) in plan
    report = ws.read(incident, "INCIDENT-REPORT.md")
    assert "## Root-cause inputs" in report
    assert "`root-cause-inputs/05-diagnostic-huge.log` (receipts, exit 0;" in report
    assert ws.ic("evidence", "verify", incident).returncode == 0


def test_a_hanging_diagnostic_is_cut_while_the_rollback_proceeds(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(policies=POLICIES)
    incident = ws.declare()  # no diagnostics configured yet: none ran
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call")
    hang = {"name": "hang", "argv": ["sleep", "60"], "timeout_seconds": 5}
    ws.configure(policies=POLICIES, service_extra={"diagnostics": [hang]})

    ran = ws.ic("run", incident)  # diagnostics start beside the run, never before it

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ws.live_release() == "v1"
    (entry,) = _inputs(ws, incident).values()
    assert entry["timed_out"] is True
    receipt = (ws.evidence(incident) / entry["path"]).read_text()
    assert "cut at its deadline" in receipt
    seconds = float(receipt.split("duration: ", 1)[1].split(" s", 1)[0])
    assert 5 <= seconds < 15
    (execution,) = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert execution["status"] == "succeeded"
    # The rollback ran to its end while the diagnostic still hung, and validation went on.
    hang_ends = _at(entry["gathered_at"]) + timedelta(seconds=5)
    assert _at(execution["finished_at"]) < hang_ends
    timeline = ws.read(incident, "incident-timeline.md")
    assert timeline.index("executing → validating") < timeline.index("evidence.input")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_deploy_diff_of_a_git_deploy_directory_is_archived(workspace: Workspace) -> None:
    ws = workspace
    repo = ws.root / "app"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, timeout=30)

    git("init", "-q")
    git("config", "user.email", "ci@example.invalid")
    git("config", "user.name", "ci")
    (repo / "checkout.py").write_text("total = order['total']\n")
    git("add", "-A")
    git("commit", "-qm", "v1")
    git("tag", "v1")
    (repo / "checkout.py").write_text("total = order['amount']\n")
    (repo / "schema.sql").write_text("ALTER TABLE orders RENAME total TO amount;\n")
    git("add", "-A")
    git("commit", "-qm", "v2")
    git("tag", "v2")
    option = {"name": "checkout", "kind": "git", "work_tree": "app"}
    ws.configure(options=[option], evidence={"diagnose_on_open": False})
    incident = ws.declare()
    assert not (ws.evidence(incident) / "rca-manifest.json").exists()  # not on open, as set

    diagnosed = ws.ic("diagnose", incident, "--json")

    assert diagnosed.returncode == 0, diagnosed.stderr
    (entry,) = json.loads(diagnosed.stdout)["inputs"]
    assert entry["kind"] == "deploy-diff" and entry["evidence_level"] == "artifacts"
    assert entry["exit_code"] == 0
    diff = (ws.evidence(incident) / entry["path"]).read_text()
    assert "diff --stat v1..v2" in diff
    assert "checkout.py" in diff and "schema.sql" in diff and "2 files changed" in diff


def test_nothing_configured_says_so(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    said = ws.ic("diagnose", incident)
    assert said.returncode == 0
    assert "no diagnostics (services.web.diagnostics)" in " ".join(said.stdout.split())
    assert not (ws.evidence(incident) / "root-cause-inputs").exists()


def test_a_diagnostic_needs_one_source(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(service_extra={"diagnostics": [{"name": "x", "argv": ["df"], "url": "http://a/"}]})
    refused = ws.ic("list")
    assert refused.returncode == 2
    assert "diagnostic 'x' needs exactly one of 'argv' or 'url'" in refused.stderr


def test_ic_serve_diagnoses_an_incident_an_alert_opens(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    ws = Workspace(root, f"sqlite:///{root / 'ic.db'}")
    ws.configure(service_extra={"diagnostics": [{"name": "disk", "argv": ["df", "-h"]}]})
    server = Server(root, ws.env, "--no-probes")
    try:
        opened = server.post("/webhooks/alertmanager", am_payload(am_alert()))
        assert opened.status_code == 200, opened.text
        incident = opened.json()["incidents_opened"][0]

        def archived() -> dict[str, Any]:
            (entry,) = _inputs(ws, incident).values()
            return entry

        entry = server.eventually(archived, timeout=60)
        assert entry["exit_code"] == 0
        assert "Filesystem" in (ws.evidence(incident) / entry["path"]).read_text()
    finally:
        server.stop()
