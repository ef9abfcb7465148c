"""Prometheus scrapes a real service, Alertmanager delivers to `ic serve`, the engine rolls back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from incident_commander.demo import service
from incident_commander.demo.monitoring import (
    ensure_installed,
    start_alertmanager,
    start_prometheus,
)
from tests.conftest import machine_lock
from tests.server import Server
from tests.workspace import Workspace

POLICIES = [
    {
        "name": "auto-rollback",
        "approves": ["severity", "mitigation"],
        "severities": ["SEV1"],
        "services": ["web"],
        "suspect_deploy_within_minutes": 30,
    },
    {"name": "auto-resolve", "approves": ["resolution"], "services": ["web"]},
]


def test_alert_from_prometheus_opens_an_incident_that_rolls_back_and_clears(
    tmp_path: Path, database_url: str
) -> None:
    with machine_lock("debian-packages"):  # one apt-get at a time, across workers and runs
        problem = ensure_installed()
    if problem:
        pytest.skip(problem)
    root = tmp_path / "ws"
    root.mkdir()
    ws = Workspace(root, database_url)
    ws.configure(policies=POLICIES, window=1.0)
    (root / "current").unlink()
    (root / "current").symlink_to("releases/v1")
    ws.start()
    server = Server(root, ws.env, "--no-probes")
    alertmanager = prometheus = None
    try:
        alertmanager, am_url = start_alertmanager(root, f"{server.url}/webhooks/alertmanager")
        prometheus = start_prometheus(root, f"127.0.0.1:{ws.port}", am_url, "web")
        assert (
            server.post(
                "/api/v1/deployments",
                {"service": "web", "version": "v1", "deployed_at": "2026-01-01T00:00:00Z"},
            ).status_code
            == 201
        )
        # The bad deploy: v2 goes live and is recorded.
        (root / "current").unlink()
        (root / "current").symlink_to("releases/v2")
        service.stop(root)
        service.start(root, ws.port)
        assert (
            server.post(
                "/api/v1/deployments", {"service": "web", "version": "v2", "commit": "bad0001"}
            ).status_code
            == 201
        )

        incidents = server.wait_for("/api/v1/incidents", lambda rows: len(rows) == 1, timeout=60)
        incident = incidents[0]["id"]
        done = server.wait_for(
            f"/api/v1/incidents/{incident}",
            lambda i: (
                i["status"] == "monitoring"
                and i["alerts"]
                and i["alerts"][0]["status"] == "resolved"
            ),
            timeout=90,
        )
    finally:
        for process in (prometheus, alertmanager):
            if process is not None:
                process.stop()
        log = server.stop()
        ws.stop()

    assert ws.live_release() == "v1"
    assert done["severity"] == "SEV1" and done["suspect_deploy"] == "v2"
    alert = done["alerts"][0]
    assert alert["source"] == "alertmanager" and alert["alertname"] == "ServiceDown"
    assert alert["labels"]["service"] == "web" and alert["labels"]["job"] == "app"
    messages = [e["message"] for e in done["timeline"]]
    assert any(m.startswith("alert cleared: ServiceDown") for m in messages)
    assert "[AUTOMATION] switch-release executed: succeeded" in messages
    decisions = ws.read_json(incident, "decision-log.json")["decisions"]
    assert [d["approver"] for d in decisions] == [
        "policy:auto-rollback",
        "policy:auto-rollback",
        "policy:auto-resolve",
    ]
    assert "Traceback" not in log
    verified = ws.ic("evidence", "verify", incident, "--json", process=True)
    assert json.loads(verified.stdout)["ok"] is True
