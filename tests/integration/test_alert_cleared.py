"""Recovery validation can require the alert that opened the incident to have cleared."""

from __future__ import annotations

import json

from tests.workspace import Workspace

CLEARED = {"recovery_checks": [{"name": "alert-cleared", "kind": "alert-cleared"}]}


def _alert_file(ws: Workspace, status: str) -> str:
    path = ws.root / f"alert-{status}.json"
    path.write_text(
        json.dumps(
            {
                "alerts": [
                    {
                        "summary": "web down",
                        "service": "web",
                        "severity": "critical",
                        "status": status,
                    }
                ]
            }
        )
    )
    return str(path)


def _to_validation(ws: Workspace) -> str:
    ws.ok("deploy", "record", "--service", "web", "--version", "v1", "--at", "2026-01-01T00:00:00Z")
    ws.ok("deploy", "record", "--service", "web", "--version", "v2")
    ingested = ws.ic("alerts", "ingest", _alert_file(ws, "firing"), "--json")
    assert ingested.returncode == 0, ingested.stderr
    data = json.loads(ingested.stdout)
    (incident,) = data["incidents_opened"]
    assert data["runs"][0]["needs"].startswith("an answer to: [SEVERITY CONFIRMATION]")
    ws.ok("approve", incident, "--yes", "--as", "on-call")
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)
    return incident


def test_validation_fails_while_the_alert_still_fires(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(service_extra=CLEARED)
    incident = _to_validation(ws)

    result = ws.ic("validate", incident)

    assert result.returncode == 1
    checks = ws.read_json(incident, "recovery-validation.json")["attempts"][-1]["checks"]
    assert checks["health"]["pass_rate"] == 1.0
    assert checks["alert-cleared"]["pass_rate"] == 0.0
    assert checks["alert-cleared"]["last_observed"] == "firing: web down"


def test_validation_passes_once_the_resolved_notification_arrived(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(service_extra=CLEARED)
    incident = _to_validation(ws)
    cleared = json.loads(ws.ok("alerts", "ingest", _alert_file(ws, "resolved"), "--json").stdout)
    assert cleared["alerts"][0]["outcome"] == "cleared"

    ws.ok("validate", incident, "--yes", "--as", "on-call")

    checks = ws.read_json(incident, "recovery-validation.json")["attempts"][-1]["checks"]
    assert checks["alert-cleared"]["pass_rate"] == 1.0
    assert json.loads(ws.ok("show", incident, "--json").stdout)["status"] == "monitoring"
