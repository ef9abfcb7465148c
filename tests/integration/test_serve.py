"""`ic serve` over real HTTP: webhooks, grouping, dedup, false positives, API, auth, limits."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from incident_commander.web.security import sign
from tests.server import Server, am_alert, am_payload
from tests.workspace import Workspace

Factory = Callable[..., Server]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Factory]:
    """Start `ic serve` in a SQLite workspace (no probes unless asked)."""
    started: list[Server] = []
    workspaces: list[Workspace] = []

    def start(*args: str, env: dict[str, str] | None = None, **config: Any) -> Server:
        root = tmp_path / f"ws{len(workspaces)}"
        root.mkdir()
        ws = Workspace(root, f"sqlite:///{root / 'ic.db'}")
        ws.configure(**config)
        workspaces.append(ws)
        server = Server(root, {**ws.env, **(env or {})}, "--no-probes", *args)
        server.workspace = ws  # type: ignore[attr-defined]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_alertmanager_alerts_open_join_dedupe_and_clear(serve: Factory) -> None:
    server = serve()
    first = server.post("/webhooks/alertmanager", am_payload(am_alert()))
    assert first.status_code == 200, first.text
    opened = first.json()
    assert opened["alerts"][0]["outcome"] == "opened"
    incident = opened["incidents_opened"][0]

    # Same alert again (a later notification of the same group): updated, no second incident.
    repeat = server.post("/webhooks/alertmanager", am_payload(am_alert(), receiver="ic-repeat"))
    assert repeat.json()["alerts"][0]["outcome"] == "duplicate"
    # Another alert of the same service joins the open incident.
    other = server.post("/webhooks/alertmanager", am_payload(am_alert("HighLatency")))
    assert other.json()["alerts"][0] == {
        "fingerprint": other.json()["alerts"][0]["fingerprint"],
        "status": "firing",
        "outcome": "joined",
        "incident_id": incident,
        "reason": None,
    }
    # A different service opens its own incident.
    billing = server.post("/webhooks/alertmanager", am_payload(am_alert(service="billing")))
    assert billing.json()["incidents_opened"] != [incident]
    # Resolved: the alert is marked cleared.
    cleared = server.post(
        "/webhooks/alertmanager", am_payload(am_alert(status="resolved"), status="resolved")
    )
    assert cleared.json()["alerts"][0]["outcome"] == "cleared"

    listed = server.client.get("/api/v1/incidents", params={"service": "web"}).json()
    assert [i["id"] for i in listed] == [incident]
    shown = server.wait_for(f"/api/v1/incidents/{incident}", lambda i: i["severity"])
    assert [(a["alertname"], a["status"]) for a in shown["alerts"]] == [
        ("ServiceDown", "resolved"),
        ("HighLatency", "firing"),
    ]
    assert shown["severity"] == "SEV1"  # proposed by the severity=critical rule, then assessed
    intake = server.root / ".artifacts" / "incidents" / incident / "incident-intake-log.md"

    def logged() -> None:  # the evidence follows the answer: wait for it, not for a time
        text = intake.read_text()
        assert "ServiceDown on web" in text and "HighLatency on web" in text

    server.eventually(logged)

    server.wait_for("/api/v1/incidents", lambda rows: all(r["severity"] for r in rows))
    metrics = server.client.get("/metrics").text
    assert 'ic_alerts_received_total{outcome="opened",source="alertmanager"} 2.0' in metrics
    assert 'ic_alerts_received_total{outcome="duplicate",source="alertmanager"} 1.0' in metrics
    assert 'ic_incidents{severity="SEV1",status="triaged"} 2.0' in metrics


def test_grouping_falls_back_to_alertname_and_formats_all_land(serve: Factory) -> None:
    server = serve()
    a = server.post("/webhooks/alertmanager", am_payload(am_alert("DiskFull", service=None)))
    b = server.post(
        "/webhooks/alertmanager", am_payload(am_alert("DiskFull", service=None, instance="db-2"))
    )
    assert b.json()["alerts"][0]["incident_id"] == a.json()["incidents_opened"][0]
    grafana = server.post(
        "/webhooks/grafana",
        am_payload(
            am_alert("ErrorRate", service="api"),
            orgId=1,
            title="[FIRING:1] ErrorRate",
            message="errors",
            values={"A": 7},
        ),
    )
    assert grafana.status_code == 200 and grafana.json()["alerts"][0]["outcome"] == "opened"
    event = {
        "routing_key": "r" * 32,
        "event_action": "trigger",
        "dedup_key": "db-lag-1",
        "payload": {
            "summary": "replica lag 90s",
            "source": "db-1",
            "severity": "critical",
            "component": "postgres",
            "group": "db",
            "class": "lag",
            "custom_details": {"lag_s": 90},
        },
    }
    trig = server.post("/webhooks/events", event)
    assert trig.status_code == 200 and trig.json()["alerts"][0]["outcome"] == "opened"
    resolve = server.post("/webhooks/events", {"event_action": "resolve", "dedup_key": "db-lag-1"})
    assert resolve.json()["alerts"][0]["status"] == "resolved"
    generic = server.post(
        "/webhooks/generic",
        {"alerts": [{"summary": "queue backlog", "service": "worker", "severity": "warning"}]},
    )
    assert generic.status_code == 200 and generic.json()["alerts"][0]["outcome"] == "opened"
    services = {i["service"] for i in server.client.get("/api/v1/incidents").json()}
    assert services == {"DiskFull", "api", "postgres", "worker"}


def test_false_positives_are_recorded_not_escalated(serve: Factory) -> None:
    server = serve(
        alerts={
            "confirmation_window_seconds": 120,
            "flap_flips": 3,
            "maintenance": [
                {
                    "services": ["batch"],
                    "reason": "planned upgrade",
                    "starts_at": "2026-01-01T00:00:00Z",
                    "ends_at": "2099-01-01T00:00:00Z",
                }
            ],
        }
    )
    # resolves inside its confirmation window
    quick = am_alert("Blip", starts="2026-11-23T03:29:00Z")
    opened = server.post("/webhooks/alertmanager", am_payload(quick)).json()
    incident = opened["incidents_opened"][0]
    gone = server.post(
        "/webhooks/alertmanager",
        am_payload(
            am_alert("Blip", status="resolved", starts="2026-11-23T03:29:00Z"), status="resolved"
        ),
    )
    assert gone.json()["alerts"][0]["outcome"] == "resolved_in_window"
    assert server.client.get(f"/api/v1/incidents/{incident}").json()["status"] == "false_positive"
    # inside a maintenance window
    maint = server.post("/webhooks/alertmanager", am_payload(am_alert(service="batch")))
    assert maint.json()["alerts"][0]["outcome"] == "maintenance"
    assert maint.json()["incidents_opened"] == []
    # flapping: firing, resolved, firing, resolved...
    flap = am_alert("Flappy", service="cache", starts="2026-11-23T01:00:00Z")
    server.post("/webhooks/alertmanager", am_payload(flap))
    outcomes = []
    for n in range(3):
        status = "resolved" if n % 2 == 0 else "firing"
        body = am_payload({**flap, "status": status}, status=status, receiver=f"r{n}")
        outcomes.append(server.post("/webhooks/alertmanager", body).json()["alerts"][0]["outcome"])
    assert outcomes[-1] == "flapping"

    def feedback() -> list[dict[str, Any]]:
        path = server.root / ".artifacts" / "incidents" / "alert-tuning-feedback.json"
        entries: list[dict[str, Any]] = json.loads(path.read_text())["false_positives"]
        kinds = {(e["alertname"], e["outcome"]) for e in entries}
        assert {
            ("Blip", "resolved_in_window"),
            ("ServiceDown", "maintenance"),
            ("Flappy", "flapping"),
        } <= kinds
        return entries

    assert all(e["suggestion"] for e in server.eventually(feedback))


def test_an_alert_storm_is_counted_and_summarised(serve: Factory) -> None:
    server = serve()
    storm = [am_alert(f"Shard{n}Down", instance=f"db-{n}") for n in range(40)]
    first = server.post("/webhooks/alertmanager", am_payload(*storm)).json()
    assert [a["outcome"] for a in first["alerts"]] == ["opened"] + ["joined"] * 39
    (incident,) = first["incidents_opened"]
    assert {a["incident_id"] for a in first["alerts"]} == {incident}
    # The same storm twice more (later notifications): every alert counted, nothing opened.
    for attempt in (2, 3):
        again = server.post("/webhooks/alertmanager", am_payload(*storm, receiver=f"r{attempt}"))
        assert again.json()["incidents_opened"] == []
        assert {(a["outcome"], a["reason"]) for a in again.json()["alerts"]} == {
            ("duplicate", f"repeat #{attempt}")
        }
    shown = server.client.get(f"/api/v1/incidents/{incident}").json()
    assert sorted(a["occurrences"] for a in shown["alerts"]) == [3] * 40
    joined = [e["message"] for e in shown["timeline"] if e["kind"] == "signal.received"]
    assert joined == [
        "39 alerts joined: "
        + ", ".join(f"Shard{n}Down (firing)" for n in range(1, 11))
        + ", and 29 more"
    ]
    # The intake log keeps every alert; the server writes it right after answering.
    folder = server.root / ".artifacts" / "incidents" / incident

    def logged() -> None:
        text = (folder / "incident-intake-log.md").read_text()
        assert all(f"Shard{n}Down on web" in text for n in range(40))

    server.eventually(logged)
    # Stopped right after an answer, the server leaves the files in step with the store.
    cleared = [{**alert, "status": "resolved"} for alert in storm]
    server.post("/webhooks/alertmanager", am_payload(*cleared, status="resolved"))
    server.stop()
    timeline = (folder / "incident-timeline.md").read_text()
    assert "40 alerts cleared: Shard0Down (resolved)" in timeline
    verified = server.workspace.ic("evidence", "verify", incident)  # type: ignore[attr-defined]
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_bad_requests_get_clear_errors_and_are_counted(serve: Factory) -> None:
    server = serve()
    post = server.client.post
    bad_json = post(
        "/webhooks/alertmanager", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400 and "malformed JSON" in bad_json.json()["error"]
    wrong_type = post(
        "/webhooks/alertmanager", content=b"{}", headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    huge = post(
        "/webhooks/generic",
        content=b" " * (1024 * 1024 + 1),
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    missing = server.post(
        "/webhooks/alertmanager",
        {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "x"}}]},
    )
    assert missing.status_code == 422
    assert missing.json()["error"] == "alerts[0].startsAt: Field required"
    not_object = server.post("/webhooks/generic", [1, 2])
    assert not_object.status_code == 422
    unknown_fields = server.post(
        "/webhooks/alertmanager", am_payload(am_alert(), futureField={"x": 1})
    )
    assert unknown_fields.status_code == 200
    # The same delivery retried: the same answer, marked as a replay, and nothing changes.
    retried = server.post("/webhooks/alertmanager", am_payload(am_alert(), futureField={"x": 1}))
    assert retried.json() == {**unknown_fields.json(), "replayed": True}
    incident = unknown_fields.json()["incidents_opened"][0]
    alerts = server.client.get(f"/api/v1/incidents/{incident}").json()["alerts"]
    assert alerts[0]["occurrences"] == 1
    unknown_id = server.client.get("/api/v1/incidents/INC-00000000-0000")
    assert unknown_id.status_code == 404 and "no incident" in unknown_id.json()["error"]
    metrics = server.client.get("/metrics").text
    for reason in ("malformed", "content_type", "too_large", "invalid", "not_found"):
        assert f'ic_requests_rejected_total{{reason="{reason}"}}' in metrics, reason
    assert "Traceback" not in server.stop()


def test_hostile_labels_are_stored_as_data(serve: Factory) -> None:
    server = serve()
    hostile = {
        "service": "web; rm -rf / #",
        "alertname": "$(touch pwned)",
        "path": "../../../etc/passwd",
        "long": "x" * 10_000,
    }
    alert = {**am_alert(), "labels": hostile}
    first = server.post("/webhooks/alertmanager", am_payload(alert))
    assert first.status_code == 200, first.text
    incident = first.json()["incidents_opened"][0]
    shown = server.client.get(f"/api/v1/incidents/{incident}").json()
    assert shown["service"] == "web; rm -rf / #"
    assert shown["alerts"][0]["labels"]["long"] == "x" * 10_000
    assert not list(server.root.rglob("pwned"))
    assert sorted(
        p.name for p in (server.root / ".artifacts" / "incidents").iterdir() if p.is_dir()
    ) == [incident]


def test_token_and_signature_guard_every_route(serve: Factory) -> None:
    server = serve(env={"IC_API_TOKEN": "t0ken-for-tests", "IC_WEBHOOK_SECRET": "shh"})
    body = json.dumps(am_payload(am_alert())).encode()
    json_type = {"content-type": "application/json"}
    assert server.client.get("/api/v1/incidents").status_code == 401
    wrong = server.client.get("/api/v1/incidents", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert (
        server.client.post("/webhooks/alertmanager", content=body, headers=json_type).status_code
        == 401
    )
    bad_sig = server.client.post(
        "/webhooks/alertmanager", content=body, headers={**json_type, "X-IC-Signature": "sha256=00"}
    )
    assert bad_sig.status_code == 401 and "t=<unix seconds>,v1=" in bad_sig.json()["error"]
    good_sig = sign("shh", body, "/webhooks/alertmanager")
    signed = server.client.post(
        "/webhooks/alertmanager", content=body, headers={**json_type, "X-IC-Signature": good_sig}
    )
    assert signed.status_code == 200, signed.text
    ok = server.client.get("/api/v1/incidents", headers={"authorization": "Bearer t0ken-for-tests"})
    assert ok.status_code == 200 and len(ok.json()) == 1
    assert server.client.get("/healthz").status_code == 200
    assert 'ic_requests_rejected_total{reason="unauthorized"} 4.0' in (
        server.client.get("/metrics").text
    )


def test_a_signature_is_good_once_for_its_path_and_moment(serve: Factory) -> None:
    server = serve(env={"IC_WEBHOOK_SECRET": "shh"}, webhook_signature_tolerance_seconds=60)
    body = json.dumps(am_payload(am_alert())).encode()

    def post(path: str, signature: str) -> Any:
        headers = {"content-type": "application/json", "X-IC-Signature": signature}
        return server.client.post(path, content=body, headers=headers)

    now = int(time.time())
    # The old scheme, a body-only HMAC, no longer opens anything.
    body_only = "sha256=" + hmac.new(b"shh", body, hashlib.sha256).hexdigest()
    old_scheme = post("/webhooks/alertmanager", body_only)
    assert old_scheme.status_code == 401
    assert "t=<unix seconds>,v1=<hex HMAC-SHA256>" in old_scheme.json()["error"]
    # Made for Alertmanager, sent to Grafana: refused.
    elsewhere = post("/webhooks/grafana", sign("shh", body, "/webhooks/alertmanager", now))
    assert elsewhere.status_code == 401
    assert "does not match this path and body" in elsewhere.json()["error"]
    stale = post("/webhooks/alertmanager", sign("shh", body, "/webhooks/alertmanager", now - 120))
    assert stale.status_code == 401 and "s ago; at most 60 s apart" in stale.json()["error"]
    ahead = post("/webhooks/alertmanager", sign("shh", body, "/webhooks/alertmanager", now + 120))
    assert ahead.status_code == 401 and "s ahead; at most 60 s apart" in ahead.json()["error"]
    assert server.client.get("/api/v1/incidents").json() == []
    # Within the tolerance, for its own path: accepted; several v1 values may be given.
    fresh = sign("shh", body, "/webhooks/alertmanager", now - 10)
    rotated = fresh + ",v1=" + "0" * 64
    accepted = post("/webhooks/alertmanager", rotated)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["alerts"][0]["outcome"] == "opened"
    # The same delivery again within the window is a replay: the first answer, nothing new.
    again = post("/webhooks/alertmanager", fresh)
    assert again.json() == {**accepted.json(), "replayed": True}
    assert len(server.client.get("/api/v1/incidents").json()) == 1


def test_without_a_token_the_server_stays_on_loopback(serve: Factory) -> None:
    server = serve("--host", "0.0.0.0")  # noqa: S104 - the point of the test
    log = server.stop()
    assert "listens on loopback only (127.0.0.1) instead of 0.0.0.0" in log


def test_api_and_cli_return_the_same_data(serve: Factory) -> None:
    server = serve()
    deploy = server.post(
        "/api/v1/deployments",
        {"service": "web", "version": "v2", "commit": "abc123", "deployed_by": "ci"},
    )
    assert deploy.status_code == 201
    created = server.post("/api/v1/incidents", {"title": "checkout 500s", "service": "web"})
    assert created.status_code == 201
    incident = created.json()["id"]
    assert created.json()["suspect_deploy"] == "v2"
    assessed = server.post(
        f"/api/v1/incidents/{incident}/assess",
        {"answers": {"production_affected": True, "outage": True}, "assessed_by": "on-call"},
    )
    assert assessed.json()["pending_approval"] == "severity"
    not_pending = server.post(
        f"/api/v1/incidents/{incident}/approvals",
        {"answer": "yes", "approver": "on-call", "kind": "mitigation"},
    )
    assert not_pending.status_code == 409
    approved = server.post(
        f"/api/v1/incidents/{incident}/approvals",
        {"answer": "yes", "approver": "on-call", "reason": "down"},
    )
    assert approved.json()["status"] == "planning"
    refused = server.post(f"/api/v1/incidents/{incident}/execute", {})
    assert refused.status_code == 409 and "Nothing was run" in refused.json()["error"]
    gates = server.client.get(f"/api/v1/incidents/{incident}/gates", params={"gate": "1"})
    assert gates.json()["passed"] is True

    ws: Workspace = server.workspace  # type: ignore[attr-defined]
    cli = json.loads(ws.ok("show", incident, "--json").stdout)
    api = server.client.get(f"/api/v1/incidents/{incident}").json()
    assert cli == api
    assert (
        json.loads(ws.ok("list", "--json").stdout) == server.client.get("/api/v1/incidents").json()
    )


def test_openapi_documents_the_webhooks(serve: Factory) -> None:
    server = serve()
    spec = server.client.get("/openapi.json").json()
    body = spec["paths"]["/webhooks/alertmanager"]["post"]["requestBody"]
    assert "alerts" in body["content"]["application/json"]["schema"]["properties"]
    assert server.client.get("/docs").status_code == 200
    assert server.client.get("/readyz").json() == {"status": "ready"}


def test_the_api_docs_load_without_the_internet(serve: Factory) -> None:
    server = serve()
    for page in ("/docs", "/redoc"):
        html = server.client.get(page)
        assert html.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert assets, html.text
        assert not [a for a in assets if not a.startswith("/")], (page, assets)
        assert "//" not in " ".join(re.findall(r"url: *'([^']*)'", html.text))
        for asset in assets:
            fetched = server.client.get(asset)
            assert fetched.status_code == 200 and len(fetched.content) > 1000, asset
    script = server.client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in script.text


def test_probe_loop_opens_an_incident_that_policies_roll_back(tmp_path: Path) -> None:
    root = tmp_path / "probe"
    root.mkdir()
    ws = Workspace(root, f"sqlite:///{root / 'ic.db'}")
    ws.configure(
        policies=[
            {
                "name": "auto",
                "approves": ["severity", "mitigation", "resolution"],
                "services": ["web"],
            },
        ]
    )
    ws.ok("deploy", "record", "--service", "web", "--version", "v1", "--at", "2026-01-01T00:00:00Z")
    ws.ok("deploy", "record", "--service", "web", "--version", "v2")
    ws.start()  # v2 is live: /health answers 500
    server = Server(root, ws.env)
    try:
        rows = server.wait_for("/api/v1/incidents", lambda r: len(r) == 1, timeout=30)
        incident = rows[0]["id"]
        done = server.wait_for(
            f"/api/v1/incidents/{incident}",
            lambda i: i["status"] == "monitoring" and i["alerts"][0]["status"] == "resolved",
            timeout=60,
        )
    finally:
        log = server.stop()
        ws.stop()
    assert ws.live_release() == "v1"
    probe = done["alerts"][0]
    assert (probe["source"], probe["alertname"]) == ("health-probe", "HealthCheckFailing")
    assert done["severity"] == "SEV1"
    assert "Traceback" not in log
    # The server's log names the incident on every event line.
    assert f" {incident} incident.declared: " in log
    assert f" {incident} automation: [AUTOMATION] switch-release executed: succeeded" in log
