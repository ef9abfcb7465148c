"""When a rollback fails, hangs, leaks a secret, or the service never recovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from tests.conftest import ic_path
from tests.waiting import until
from tests.workspace import Workspace, script_option


def _to_awaiting(ws: Workspace, env: dict[str, str] | None = None) -> str:
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--yes", "--as", "on-call", env=env or {})
    return incident


def test_failing_script_tries_the_next_option(workspace: Workspace) -> None:
    ws = workspace
    ws.configure([script_option("first", "fail.sh"), script_option("second", "rollback_ok.sh")])
    incident = _to_awaiting(ws)

    result = ws.ok("execute", incident)

    assert "first: failed — exit code 3" in result.stdout
    assert "second: succeeded" in result.stdout
    assert ws.ran("fail") and ws.ran("rollback_ok")
    assert ws.live_release() == "v1"
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [(r["option"], r["status"]) for r in runs] == [
        ("first", "failed"),
        ("second", "succeeded"),
    ]
    assert "cannot reach the deploy API" in runs[0]["commands"][0]["stderr"]
    timeline = ws.read(incident, "incident-timeline.md")
    assert "[ERROR] Rollback script failed: exit code 3." in timeline
    assert "[AUTOMATION] first executed: failed" in timeline
    comms = ws.read(incident, "communication-log.md")
    assert "rollback first FAILED" in comms and "Trying next: second" in comms


def test_hanging_script_times_out_and_the_next_option_runs(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(
        [
            script_option("slow", "hang.sh", timeout_seconds=1),
            script_option("second", "rollback_ok.sh"),
        ]
    )
    incident = _to_awaiting(ws)

    result = ws.ok("execute", incident, timeout=60)

    assert "slow: timed_out — timed out after 1 s" in result.stdout
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert runs[0]["status"] == "timed_out"
    assert runs[0]["duration_s"] < 10
    assert runs[1]["status"] == "succeeded"


def test_every_option_failing_returns_to_planning(workspace: Workspace) -> None:
    ws = workspace
    ws.configure([script_option("only", "fail.sh")])
    incident = _to_awaiting(ws)

    result = ws.ic("execute", incident)

    assert result.returncode == 1
    assert "status planning" in result.stderr
    timeline = ws.read(incident, "incident-timeline.md")
    assert "executing → planning: every option of the plan failed" in timeline
    assert "No option left; escalating." in ws.read(incident, "communication-log.md")


def test_secret_printed_by_a_script_is_redacted_everywhere(workspace: Workspace) -> None:
    ws = workspace
    secret = "s3cr3t-deploy-token-9431"
    ws.configure(
        [
            script_option("leaky", "leak.sh", secret_env={"DEPLOY_TOKEN": "${DEPLOY_TOKEN}"}),
            script_option("second", "rollback_ok.sh"),
        ]
    )
    incident = _to_awaiting(ws, env={"DEPLOY_TOKEN": secret})

    ws.ok("execute", incident, env={"DEPLOY_TOKEN": secret})

    assert ws.ran("leak")
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert runs[0]["commands"][0]["stdout"] == "using token [REDACTED] for the rollback\n"
    assert runs[0]["commands"][0]["env"]["DEPLOY_TOKEN"] == "[REDACTED]"
    for path in ws.evidence(incident).rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(), path
    if ws.database_url.startswith("sqlite"):
        db = ws.database_url.removeprefix("sqlite:///")
        for suffix in ("", "-wal"):
            try:
                with open(db + suffix, "rb") as handle:
                    assert secret.encode() not in handle.read()
            except FileNotFoundError:
                pass


def test_service_that_never_recovers_goes_back_to_planning_with_severity_raised(
    workspace: Workspace,
) -> None:
    ws = workspace
    # The "rollback" succeeds but changes nothing: v2 stays live and keeps failing.
    ws.configure([script_option("noop", "noop.sh")])
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--as", "on-call", "--yes")  # degraded: SEV2
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)

    result = ws.ic("validate", incident)

    assert result.returncode == 1
    assert "Recovery validation failed: 0.0%" in result.stdout
    assert "status planning, severity SEV1" in result.stderr
    validation = ws.read_json(incident, "recovery-validation.json")
    assert validation["attempts"][-1]["verdict"] == "failed"
    severity = ws.read_json(incident, "severity-assessment.json")
    assert severity["severity"] == "SEV1"
    assert severity["history"][-1]["from"] == "SEV2"
    assert severity["history"][-1]["reason"] == "recovery validation failed"
    assert "recovery NOT verified" in ws.read(incident, "communication-log.md")
    gate = ws.ic("gate", "check", incident, "--gate", "3")
    assert gate.returncode == 1
    assert "critical checks passing >= 95%" in gate.stdout and "Next:" in gate.stdout


def test_missing_credentials_drop_an_option_at_readiness(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(
        [
            script_option("leaky", "leak.sh", secret_env={"DEPLOY_TOKEN": "${DEPLOY_TOKEN}"}),
            script_option("second", "rollback_ok.sh"),
        ]
    )
    incident = _to_awaiting(ws, env={"DEPLOY_TOKEN": ""})
    checklist = ws.read_json(incident, "rollback-readiness-checklist.json")
    creds = [
        i for i in checklist["items"] if i["item"] == "leaky: credentials and environment available"
    ]
    assert creds[0]["passed"] is False
    assert creds[0]["detail"] == "unset: DEPLOY_TOKEN"
    assert checklist["ready_options"] == ["second"]


def _kill_mid_run(ws: Workspace, incident: str) -> None:
    """Start `ic execute`, wait until the hanging command runs, then kill ic with SIGKILL."""
    env = {**os.environ, **ws.env}
    proc = subprocess.Popen(
        [ic_path(), "execute", incident],
        cwd=ws.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        until(lambda: ws.ran("hang"), "the hanging command to start", within=30)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    _stop_leftovers(ws)


def _stop_leftovers(ws: Workspace) -> None:
    """Stop what the killed rollback started and left running (its `sleep`), as an operator
    would before running `ic execute` again; wait until it is gone."""
    leftovers = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                tagged = any(v.startswith(b"IC_WORK=") for v in handle.read().split(b"\0"))
            here = os.readlink(f"/proc/{name}/cwd") == os.path.realpath(ws.root)
        except OSError:
            continue
        if tagged and here:
            os.kill(int(name), signal.SIGKILL)
            leftovers.append(int(name))
    until(lambda: not any(_running(pid) for pid in leftovers), f"{leftovers} to stop", within=30)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_crash_mid_rollback_is_not_rerun_blindly(workspace: Workspace) -> None:
    ws = workspace
    ws.configure([script_option("slow", "hang.sh", timeout_seconds=60)])
    incident = _to_awaiting(ws)
    _kill_mid_run(ws, incident)
    assert json.loads(ws.ok("show", incident, "--json").stdout)["status"] == "executing"

    again = ws.ic("execute", incident)

    assert again.returncode == 1
    assert "slow was interrupted" in again.stdout and "nothing was re-run" in again.stdout
    assert (ws.root / "ran-hang").read_text().count("ran") == 1
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [r["status"] for r in runs] == ["interrupted"]
    assert json.loads(ws.ok("show", incident, "--json").stdout)["status"] == "planning"
    assert ws.ic("evidence", "verify", incident).returncode == 0


def test_crash_after_the_switch_is_recognised_by_the_live_release(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(
        [
            {
                "name": "switch",
                "kind": "release-symlink",
                "restart": [str(ws.root / "scripts" / "hang.sh")],
                "restart_timeout_seconds": 60,
            }
        ]
    )
    incident = _to_awaiting(ws)
    _kill_mid_run(ws, incident)
    assert ws.live_release() == "v1"

    again = ws.ok("execute", incident)

    assert "the rollback took effect" in again.stdout
    assert (ws.root / "ran-hang").read_text().count("ran") == 1
    assert json.loads(ws.ok("show", incident, "--json").stdout)["status"] == "validating"
