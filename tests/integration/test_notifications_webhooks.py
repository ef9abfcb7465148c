"""Outgoing event webhooks (signed, retried, recorded) and channels that hang or are dead while a
rollback runs."""

from __future__ import annotations

import hmac
import json
import time
from pathlib import Path

import pytest

from incident_commander.signing import SIGNATURE_HEADER, digest
from tests.receivers import Request, http_receiver
from tests.server import Server
from tests.workspace import Workspace, free_port

SECRET = "event-signing-secret"


def _verified(request: Request) -> bool:
    """What a receiver does: recompute the HMAC over timestamp, path and body."""
    fields = dict(
        part.split("=", 1) for part in request.headers[SIGNATURE_HEADER.lower()].split(",")
    )
    expected = digest(SECRET, int(fields["t"]), request.path, request.body)
    return hmac.compare_digest(fields["v1"], expected) and abs(time.time() - int(fields["t"])) < 60


def test_subscribed_events_arrive_signed_and_each_delivery_is_recorded(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace
    with http_receiver(status=[500, 200]) as hook:
        ws.configure(
            notifications=[
                {"name": "inbox", "kind": "file", "path": "inbox.log"},
                {
                    "name": "automation",
                    "kind": "webhook",
                    "url": f"http://{hook.url}/ic-events",
                    "secret": "$EVENT_SECRET",
                    "events": ["status", "approval.*"],
                    "backoff_seconds": 0.05,
                },
            ]
        )
        monkeypatch.setenv("EVENT_SECRET", SECRET)  # read with ic.yaml by every command
        incident = ws.declare()
        ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    events = [json.loads(r.body) for r in hook.requests]
    kinds = [e["event"] for e in events]
    assert "incident.declared" not in kinds  # not subscribed
    assert {"status", "approval.asked", "approval.answered"} <= set(kinds)
    assert all(_verified(r) for r in hook.requests)
    assert all(e["incident"]["id"] == incident for e in events)
    assert hook.requests[0].headers["x-ic-event"] == events[0]["event"]
    comms = ws.read(incident, "communication-log.md")
    # the first delivery met a 500, was tried again after a pause and got through
    assert f"http://{hook.url}/ic-events: HTTP 500, HTTP 200" in comms
    assert "| automation | automation |" in comms


def test_a_forged_signature_does_not_verify(workspace: Workspace) -> None:
    ws = workspace
    with http_receiver() as hook:
        ws.configure(
            notifications=[
                {
                    "name": "automation",
                    "kind": "webhook",
                    "url": f"http://{hook.url}/e",
                    "secret": "another-secret",
                    "events": ["incident.*"],
                }
            ]
        )
        ws.declare()
    assert hook.requests and not any(_verified(r) for r in hook.requests)


def test_hanging_and_dead_channels_never_delay_the_rollback(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, f"sqlite:///{tmp_path / 'ic.db'}")
    dead = free_port()  # nothing listens there
    with http_receiver(hang=True) as hanging:
        ws.configure(
            notifications=[
                {
                    "name": "chat",
                    "kind": "apprise",
                    "url": f"json://{hanging.url}/chat",
                    "audience": "responders",
                    "timeout_seconds": 120,
                },
                {
                    "name": "mail",
                    "kind": "apprise",
                    "url": f"mailto://127.0.0.1:{dead}?from=ic@example.com&to=a@example.com",
                    "audience": "stakeholders",
                },
                {
                    "name": "events",
                    "kind": "webhook",
                    "url": f"http://{hanging.url}/events",
                    "timeout_seconds": 120,
                },
            ],
            policies=[{"name": "auto", "approves": ["severity", "mitigation", "resolution"]}],
        )
        ws.ok(
            "deploy",
            "record",
            "--service",
            "web",
            "--version",
            "v1",
            "--at",
            "2026-01-01T00:00:00Z",
        )
        ws.ok("deploy", "record", "--service", "web", "--version", "v2")
        ws.start()  # v2 is live: /health answers 500, the probes open an incident
        server = Server(tmp_path, ws.env)
        try:
            rows = server.wait_for("/api/v1/incidents", lambda r: len(r) == 1, timeout=30)
            incident = rows[0]["id"]
            server.wait_for(
                f"/api/v1/incidents/{incident}", lambda i: i["status"] == "monitoring", timeout=30
            )
            recovered_at = time.monotonic()
            assert ws.live_release() == "v1"
            assert hanging.requests  # the channels were really tried, and are still hanging
        finally:
            log = server.stop()
            ws.stop()
    assert time.monotonic() - recovered_at < 60
    execution = json.loads(
        (ws.evidence(incident) / "mitigation-execution-report.json").read_text()
    )["executions"][0]
    assert execution["status"] == "succeeded" and execution["duration_s"] < 15
    comms = (ws.evidence(incident) / "communication-log.md").read_text()
    assert "| mail | stakeholders |" in comms and "FAILED: mailto://127.0.0.1" in comms
    assert "queued for delivery" in comms  # the hanging channels' messages, still waiting
    assert "Traceback" not in log
