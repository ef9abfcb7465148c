"""http-action: one templated request to a real local server, judged by its status code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import assert_clean_error, run_ic
from tests.http_recorder import Recorder, Reply, recording_server
from tests.workspace import Workspace, free_port, script_option

TOKEN = "maint-tok-5521-secret"


@pytest.fixture
def server() -> Iterator[Recorder]:
    with recording_server() as recorder:
        yield recorder


def _maintenance(url: str, **extra: Any) -> dict[str, Any]:
    request = {
        "method": "post",
        "url": url + "/v1/maintenance/{service}",
        "headers": {"X-Incident": "{incident_id}"},
        "secret_headers": {"Authorization": "Bearer ${MAINT_TOKEN}"},
        "json": {"enabled": True, "reason": "incident {incident_id}"},
        "timeout_seconds": 5,
    }
    return {"name": "maintenance-on", "kind": "http-action", "request": request, **extra}


def _to_awaiting(ws: Workspace, env: dict[str, str]) -> str:
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ic("plan", incident, "--yes", "--as", "on-call", env=env)
    return incident


def _status(ws: Workspace, incident: str) -> str:
    return str(json.loads(ws.ok("show", incident, "--json").stdout)["status"])


def test_the_request_is_sent_as_configured_and_its_secret_redacted(
    workspace: Workspace, server: Recorder
) -> None:
    ws = workspace
    env = {"MAINT_TOKEN": TOKEN}
    # The API echoes the token back: the evidence must not keep it.
    server.answer("POST", "/v1/maintenance/web", Reply(200, f'{{"ok": true, "by": "{TOKEN}"}}'))
    ws.configure([_maintenance(server.url)])
    incident = _to_awaiting(ws, env)

    result = ws.ok("execute", incident, env=env)

    assert "maintenance-on: succeeded" in result.stdout
    [sent] = server.received("POST", "/v1/maintenance/web")
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["x-incident"] == incident
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.body) == {"enabled": True, "reason": f"incident {incident}"}
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert (run["kind"], run["status"]) == ("http-action", "succeeded")
    command = run["commands"][0]
    assert command["argv"] == ["POST", f"{server.url}/v1/maintenance/web", "--data", sent.body]
    assert command["env"]["Authorization"] == "[REDACTED]"
    assert command["env"]["X-Incident"] == incident
    assert command["stdout"] == '{"ok": true, "by": "[REDACTED]"}'
    for path in ws.evidence(incident).rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(), path
    assert "[AUTOMATION] maintenance-on executed: succeeded" in ws.read(
        incident, "incident-timeline.md"
    )
    assert _status(ws, incident) == "validating"


@pytest.mark.parametrize(
    ("reply", "status", "error"),
    [
        (Reply(500, "maintenance API down"), "failed", "HTTP 500, expected 200, 201, 202, 204"),
        (Reply(hang=True), "timed_out", "no answer within 1 s"),
    ],
    ids=["500", "hang"],
)
def test_an_error_or_a_hang_falls_through_to_the_next_option(
    workspace: Workspace, server: Recorder, reply: Reply, status: str, error: str
) -> None:
    ws = workspace
    env = {"MAINT_TOKEN": TOKEN}
    server.answer("POST", "/v1/maintenance/web", reply)
    option = _maintenance(server.url)
    option["request"]["timeout_seconds"] = 1
    ws.configure([option, script_option("second", "rollback_ok.sh")])
    incident = _to_awaiting(ws, env)

    result = ws.ok("execute", incident, env=env)

    assert f"maintenance-on: {status}" in result.stdout and "second: succeeded" in result.stdout
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [(r["option"], r["status"]) for r in runs] == [
        ("maintenance-on", status),
        ("second", "succeeded"),
    ]
    assert runs[0]["error"] == f"POST {server.url}/v1/maintenance/web: {error}"
    assert runs[0]["commands"][0]["timed_out"] is (status == "timed_out")
    assert runs[0]["duration_s"] < 10
    assert len(server.received("POST", "/v1/maintenance/web")) == 1
    timeline = ws.read(incident, "incident-timeline.md")
    assert f"[AUTOMATION] maintenance-on executed: {status}" in timeline
    assert "Trying next: second" in ws.read(incident, "communication-log.md")
    assert ws.live_release() == "v1"


def _unreachable(server: Recorder) -> tuple[dict[str, Any], dict[str, str], str]:
    port = free_port()
    return (
        _maintenance(f"http://127.0.0.1:{port}"),
        {"MAINT_TOKEN": TOKEN},
        f"maintenance-on: 127.0.0.1:{port} accepts connections: cannot connect: Connection refused",
    )


def _probe_fails(server: Recorder) -> tuple[dict[str, Any], dict[str, str], str]:
    server.answer("GET", "/v1/health", Reply(503, "draining"))
    probe = {"method": "GET", "url": server.url + "/v1/health", "expect_status": [200]}
    return (
        _maintenance(server.url, probe=probe),
        {"MAINT_TOKEN": TOKEN},
        f"maintenance-on: probe GET {server.url}/v1/health answers as expected: "
        "HTTP 503, expected 200",
    )


def _token_unset(server: Recorder) -> tuple[dict[str, Any], dict[str, str], str]:
    return (
        _maintenance(server.url),
        {"MAINT_TOKEN": ""},
        "maintenance-on: credentials present (MAINT_TOKEN): unset: MAINT_TOKEN",
    )


# Readiness reads files and servers only: one database is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "case", [_unreachable, _probe_fails, _token_unset], ids=lambda c: c.__name__
)
def test_readiness_halts_with_what_it_found(
    workspace: Workspace, server: Recorder, case: Any
) -> None:
    ws = workspace
    option, env, reason = case(server)
    ws.configure([option])

    incident = _to_awaiting(ws, env)

    show = json.loads(ws.ok("show", incident, "--json").stdout)
    assert show["status"] == "halted"
    assert reason in show["halt_reason"], show["halt_reason"]
    assert server.received("POST", "/v1/maintenance/web") == []


def test_a_template_naming_an_unknown_placeholder_is_refused_at_load(tmp_path: Path) -> None:
    option = _maintenance("http://127.0.0.1:9")
    option["request"]["url"] = "http://127.0.0.1:9/v1/maintenance/{region}"
    config = {"services": {"web": {"rollback_options": [option]}}}
    (tmp_path / "ic.yaml").write_text(yaml.safe_dump(config))

    result = run_ic("list", cwd=tmp_path, env={"IC_DATABASE_URL": f"sqlite:///{tmp_path}/ic.db"})

    assert_clean_error(
        result, 2, "services.web.rollback_options.0.request", "placeholder {region}", "not allowed"
    )
