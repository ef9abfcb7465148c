"""flag-http: a flag turned off through Unleash's admin API or a configured request, on a real
local server that keeps the flag's state and records every request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from incident_commander.clock import utcnow
from incident_commander.store.models import Decision, Execution, Incident
from tests.http_recorder import Received, Recorder, Reply, recording_server
from tests.workspace import Workspace, free_port, script_option

TOKEN = "unleash-admin-tok-7719"
FEATURE = "/api/admin/projects/default/features/new-checkout"
OFF = FEATURE + "/environments/production/off"


class Unleash:
    """The two admin endpoints used, over one flag whose production state the test holds."""

    def __init__(self, server: Recorder, *, enabled: bool = True) -> None:
        self.server = server
        self.enabled = enabled
        server.answer("GET", FEATURE, self._feature)
        server.answer("POST", OFF, self._off)

    def _feature(self, request: Received) -> Reply:
        environments = [
            {"name": "development", "enabled": True, "strategies": []},
            {"name": "production", "enabled": self.enabled, "strategies": []},
        ]
        return Reply(200, json.dumps({"name": "new-checkout", "environments": environments}))

    def _off(self, request: Received) -> Reply:
        self.enabled = False
        return Reply(200, "")


@pytest.fixture
def server() -> Iterator[Recorder]:
    with recording_server() as recorder:
        yield recorder


def _unleash_option(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "checkout-off",
        "kind": "flag-http",
        "api": "unleash",
        "base_url": url,
        "environment": "production",
        "flag": "new-checkout",
        "token": "${UNLEASH_TOKEN}",
        "timeout_seconds": 5,
        **extra,
    }


ENV = {"UNLEASH_TOKEN": TOKEN}


def _to_awaiting(ws: Workspace, env: dict[str, str] = ENV) -> str:
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ic("plan", incident, "--yes", "--as", "on-call", env=env)
    return incident


def _status(ws: Workspace, incident: str) -> str:
    return str(json.loads(ws.ok("show", incident, "--json").stdout)["status"])


def test_unleash_flag_is_turned_off_and_read_back(workspace: Workspace, server: Recorder) -> None:
    ws = workspace
    unleash = Unleash(server)
    ws.configure([_unleash_option(server.url)])
    incident = _to_awaiting(ws)
    checklist = ws.read_json(incident, "rollback-readiness-checklist.json")
    assert checklist["ready_options"] == ["checkout-off"]

    result = ws.ok("execute", incident, env=ENV)

    assert "checkout-off: succeeded" in result.stdout
    assert unleash.enabled is False
    [sent] = server.received("POST", OFF)
    assert sent.headers["authorization"] == TOKEN and sent.body == ""
    assert all(r.headers["authorization"] == TOKEN for r in server.received("GET", FEATURE))
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    post, read = run["commands"]
    assert post["argv"] == ["POST", server.url + OFF]
    assert post["env"]["Authorization"] == "[REDACTED]"
    assert read["argv"] == ["GET", server.url + FEATURE]
    production = json.loads(read["stdout"])["environments"][1]
    assert production == {"name": "production", "enabled": False, "strategies": []}
    assert (run["release_before"], run["release_after"]) == (
        "flag new-checkout on",
        "flag new-checkout off",
    )
    for path in ws.evidence(incident).rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(), path
    assert _status(ws, incident) == "validating"


@pytest.mark.parametrize(
    ("reply", "status", "error"),
    [
        (Reply(500, '{"message": "db down"}'), "failed", "HTTP 500, expected 200, 201, 202, 204"),
        (Reply(hang=True), "timed_out", "no answer within 1 s"),
    ],
    ids=["500", "hang"],
)
def test_a_refused_or_hanging_api_falls_through_to_the_next_option(
    workspace: Workspace, server: Recorder, reply: Reply, status: str, error: str
) -> None:
    ws = workspace
    Unleash(server)
    server.answer("POST", OFF, reply)
    ws.configure(
        [
            _unleash_option(server.url, timeout_seconds=1),
            script_option("second", "rollback_ok.sh"),
        ]
    )
    incident = _to_awaiting(ws)

    result = ws.ok("execute", incident, env=ENV)

    assert f"checkout-off: {status}" in result.stdout and "second: succeeded" in result.stdout
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [(r["option"], r["status"]) for r in runs] == [
        ("checkout-off", status),
        ("second", "succeeded"),
    ]
    assert runs[0]["error"] == f"POST {server.url}{OFF}: {error}"
    assert runs[0]["release_after"] == "flag new-checkout on"
    assert "[AUTOMATION] checkout-off executed: " + status in ws.read(
        incident, "incident-timeline.md"
    )
    assert ws.live_release() == "v1"


# Readiness reads files and servers only: one database is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("arrange", "env", "reason"),
    [
        (
            lambda s: None,
            ENV,
            "checkout-off: flag new-checkout exists: no flag new-checkout in project default "
            "(HTTP 404)",
        ),
        (
            lambda s: Unleash(s, enabled=False),
            ENV,
            "checkout-off: flag new-checkout is on in production: enabled: false in production",
        ),
        (
            lambda s: Unleash(s),
            {"UNLEASH_TOKEN": ""},
            "checkout-off: credentials present (UNLEASH_TOKEN): unset: UNLEASH_TOKEN",
        ),
    ],
    ids=["unknown-flag", "already-off", "token-unset"],
)
def test_readiness_halts_with_what_the_api_said(
    workspace: Workspace, server: Recorder, arrange: Any, env: dict[str, str], reason: str
) -> None:
    ws = workspace
    arrange(server)
    ws.configure([_unleash_option(server.url)])

    incident = _to_awaiting(ws, env)

    show = json.loads(ws.ok("show", incident, "--json").stdout)
    assert show["status"] == "halted"
    assert reason in show["halt_reason"], show["halt_reason"]
    assert server.received("POST", OFF) == []


def test_an_unreachable_api_halts_at_readiness(workspace: Workspace) -> None:
    ws = workspace
    url = f"http://127.0.0.1:{free_port()}"
    ws.configure([_unleash_option(url)])

    incident = _to_awaiting(ws)

    show = json.loads(ws.ok("show", incident, "--json").stdout)
    assert show["status"] == "halted"
    assert (
        "checkout-off: flag new-checkout exists: cannot read the flag: ConnectError"
        in (show["halt_reason"])
    )


def test_the_generic_form_sends_its_request_and_reads_the_state_at_a_pointer(
    workspace: Workspace, server: Recorder
) -> None:
    ws = workspace
    flag = {"key": "new-checkout", "environments": {"production": {"on": True}}}

    def patch(request: Received) -> Reply:
        flag["environments"] = {"production": {"on": False}}
        return Reply(200, json.dumps(flag))

    server.answer("GET", "/api/v2/flags/shop/new-checkout", lambda r: Reply(200, json.dumps(flag)))
    server.answer("PATCH", "/api/v2/flags/shop/new-checkout", patch)
    auth = {"Authorization": "${LD_TOKEN}"}
    option = {
        "name": "checkout-off",
        "kind": "flag-http",
        "api": "generic",
        "flag": "new-checkout",
        "request": {
            "method": "PATCH",
            "url": server.url + "/api/v2/flags/shop/{flag}",
            "headers": {
                "Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"
            },
            "secret_headers": auth,
            "json": {
                "environmentKey": "production",
                "comment": "incident {incident_id}",
                "instructions": [{"kind": "turnFlagOff"}],
            },
            "expect_status": [200],
        },
        "state": {
            "url": server.url + "/api/v2/flags/shop/{flag}",
            "secret_headers": auth,
            "pointer": "/environments/production/on",
        },
    }
    ws.configure([option])
    env = {"LD_TOKEN": "ld-api-tok-3141"}
    incident = _to_awaiting(ws, env)

    ws.ok("execute", incident, env=env)

    [sent] = server.received("PATCH", "/api/v2/flags/shop/new-checkout")
    assert sent.headers["authorization"] == "ld-api-tok-3141"
    assert sent.headers["content-type"].endswith("domain-model=launchdarkly.semanticpatch")
    assert json.loads(sent.body)["instructions"] == [{"kind": "turnFlagOff"}]
    assert json.loads(sent.body)["comment"] == f"incident {incident}"
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert run["status"] == "succeeded"
    assert run["commands"][0]["argv"][:3] == [
        "PATCH",
        server.url + "/api/v2/flags/shop/new-checkout",
        "--data",
    ]
    assert run["release_after"] == "flag new-checkout off"
    assert _status(ws, incident) == "validating"


def test_an_attempt_whose_owner_died_is_settled_by_the_flag_state_at_unleash(
    workspace: Workspace, server: Recorder
) -> None:
    ws = workspace
    unleash = Unleash(server)
    ws.configure([_unleash_option(server.url)])
    incident = _to_awaiting(ws)
    # Another host started the attempt, turned the flag off, and went silent.
    engine = create_engine(ws.database_url)
    try:
        with Session(engine) as db:
            decision = db.scalars(
                select(Decision).where(
                    Decision.incident_id == incident, Decision.kind == "mitigation"
                )
            ).one()
            beat = utcnow() - timedelta(seconds=60)
            db.add(
                Execution(
                    incident_id=incident,
                    idempotency_key=f"{incident}:{decision.id}:checkout-off:1",
                    option_name="checkout-off",
                    kind="flag-http",
                    decision_id=decision.id,
                    status="started",
                    owner="otherhost:4242",
                    target_release="v1",
                    started_at=beat,
                    commands=[],
                    heartbeat_at=beat,
                    lease_expires_at=beat + timedelta(seconds=15),
                    in_flight="web",
                )
            )
            db.execute(update(Incident).where(Incident.id == incident).values(status="executing"))
            db.commit()
    finally:
        engine.dispose()
    unleash.enabled = False

    result = ws.ok("execute", incident, env=ENV)

    assert "the rollback took effect" in result.stdout
    assert "flag new-checkout is off (enabled: false in production)" in result.stdout
    assert server.received("POST", OFF) == []
    assert _status(ws, incident) == "validating"
