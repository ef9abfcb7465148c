"""After "resolved" the tool keeps watching: each checkpoint runs the recovery checks when due,
a failed one reopens the incident, and a watcher that was stopped resumes without skipping or
repeating a checkpoint."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import assert_clean_error, ic_path
from tests.waiting import until
from tests.workspace import Workspace

# Three checkpoints, 0.6 s, 1.2 s and 1.8 s after resolution.
SCHEDULE = {"schedule_minutes": [0.01, 0.02, 0.03], "every_seconds": 0.2}


def _resolve(ws: Workspace, incident: str) -> None:
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)
    ws.ok("validate", incident)
    ws.ok("resolve", incident, "--yes", "--as", "on-call", "--reason", "healthy")


def _points(ws: Workspace, incident: str) -> list[dict[str, Any]]:
    path = ws.evidence(incident) / "extended-monitoring.json"
    if not path.is_file():
        return []
    return list(json.loads(path.read_text())["checkpoints"])


def _watch_until(ws: Workspace, incident: str, statuses: list[str]) -> None:
    def reached() -> bool:
        ws.ok("watch", "--once")
        return [p["status"] for p in _points(ws, incident)] == statuses

    until(reached, f"checkpoints {statuses}")


def _break(ws: Workspace) -> None:
    (ws.root / "current").unlink()
    (ws.root / "current").symlink_to("releases/v2")
    subprocess.run(
        [
            *(sys.executable, "-m", "incident_commander.demo.service", "restart"),
            *("--workdir", str(ws.root), "--port", str(ws.port)),
        ],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_checkpoint_runs_when_due_and_the_watch_completes(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(monitoring=SCHEDULE)
    incident = ws.declare()
    _resolve(ws, incident)

    _watch_until(ws, incident, ["passed", "passed", "passed"])
    shown = json.loads(ws.ok("show", incident, "--json").stdout)

    points = _points(ws, incident)
    assert [p["n"] for p in points] == [1, 2, 3]
    assert all(p["ran_at"] >= p["due"] for p in points)
    assert points[0]["checks"][0]["name"] == "health" and points[0]["checks"][0]["passed"]
    assert points[0]["phase"] == "continuous (first 30 minutes)"
    timeline = ws.read(incident, "incident-timeline.md")
    assert "extended monitoring: 3 checkpoint(s)" in timeline
    assert "[AUTOMATION] extended monitoring checkpoint 3/3" in timeline
    assert "extended monitoring complete: all 3 checkpoints passed" in timeline
    assert [p["status"] for p in shown["extended_monitoring"]] == ["passed"] * 3
    assert shown["status"] == "monitoring"
    ws.ok("evidence", "verify", incident)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_failed_checkpoint_reopens_and_the_incident_recovers_again(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.configure(monitoring=SCHEDULE)
    incident = ws.declare()
    _resolve(ws, incident)

    _break(ws)
    _watch_until(ws, incident, ["failed", "cancelled", "cancelled"])
    failed = ws.read(incident, "incident-timeline.md")
    reopened = json.loads(ws.ok("show", incident, "--json").stdout)
    _resolve(ws, incident)

    assert (
        "extended monitoring checkpoint 1/3 (continuous (first 30 minutes)) executed: failed"
        in (failed)
    )
    assert reopened["status"] == "reopened"
    timeline = ws.read(incident, "incident-timeline.md")
    assert "monitoring → reopened: extended monitoring checkpoint 1/3 failed" in timeline
    assert "2 extended-monitoring checkpoint(s) cancelled" in timeline
    assert ws.live_release() == "v1"
    # Resolved again: a new schedule, and the watch starts over.
    assert [p["status"] for p in _points(ws, incident)] == ["due", "due", "due"]
    assert "[REOPENED] web" in ws.read(incident, "communication-log.md")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_watcher_killed_between_checkpoints_resumes_without_skipping_or_repeating(
    workspace: Workspace,
) -> None:
    ws = workspace
    # The second checkpoint comes 5.4 s after the first: time enough to kill between them.
    ws.configure(monitoring={"schedule_minutes": [0.01, 0.1, 0.11], "every_seconds": 0.2})
    incident = ws.declare()
    _resolve(ws, incident)
    watcher = subprocess.Popen(
        [ic_path(), "watch", "--every", "0.1"],
        cwd=ws.root,
        env={**ws.env, "PATH": f"{sys.prefix}/bin:/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        until(lambda: [p["status"] for p in _points(ws, incident)][:1] == ["passed"], "first")
    finally:
        watcher.send_signal(signal.SIGKILL)
        watcher.wait(timeout=30)
    left = [p["status"] for p in _points(ws, incident)]
    until(lambda: ws.ok("show", incident, "--json") and _all_due(ws, incident), "all due")

    ws.ok("watch", "--once")
    again = ws.ok("watch", "--once")

    points = _points(ws, incident)
    assert "No checkpoint is due." in again.stdout
    assert left.count("passed") < 3  # the kill came between checkpoints
    assert [p["status"] for p in points] == ["passed", "passed", "passed"]
    timeline = ws.read(incident, "incident-timeline.md")
    for n in (1, 2, 3):
        runs = re.findall(rf"extended monitoring checkpoint {n}/3 \(", timeline)
        assert len(runs) == 1, f"checkpoint {n} ran {len(runs)} times"


def _all_due(ws: Workspace, incident: str) -> bool:
    from datetime import UTC, datetime

    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return all(p["due"] <= now for p in _points(ws, incident))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_schedule_that_goes_backwards_is_refused(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(monitoring={"schedule_minutes": [10, 5]})

    result = ws.ic("watch", "--once")

    assert_clean_error(result, 2, "monitoring.schedule_minutes", "must increase")
