"""The public status page: built as files and served by `ic serve`, it shows per service and per
incident only what was written for the public, never a secret or an internal hostname planted in
the incident's title, symptoms, alert labels, internal notes or command output."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from incident_commander.clock import utcnow
from incident_commander.config import load_settings
from incident_commander.notify.messages import PUBLIC_STATES, public_state
from incident_commander.protocol.states import Status
from incident_commander.reports.status_page import build_status
from incident_commander.store.db import open_store
from incident_commander.store.models import Incident
from tests.conftest import assert_clean_error
from tests.server import Server
from tests.waiting import until
from tests.workspace import Workspace, script_option

SECRET = "tok-5ecr3t-9f2c41"
HOST = "db-primary.corp.internal"
PUBLIC = "Some payments fail; we are rolling back <b>checkout</b> [v2]."
CHATTY = f"""#!/usr/bin/env bash
echo "connecting to {HOST} with token {SECRET}"
exec "$(dirname "$0")/rollback_ok.sh" "$@"
"""


def _planted(ws: Workspace) -> str:
    """An incident opened by an alert whose summary, labels and details hold the secret."""
    alert = {
        "summary": f"checkout returns 500 on {HOST} (token={SECRET})",
        "service": "web",
        "severity": "critical",
        "labels": {"instance": HOST, "api_token": SECRET},
        "details": {"runbook": f"ssh {HOST} -i {SECRET}"},
    }
    path = ws.root / "alert.json"
    path.write_text(json.dumps({"alerts": [alert]}))
    ws.ok("deploy", "record", "--service", "web", "--version", "v1", "--at", "2026-01-01T00:00:00Z")
    ws.ok("deploy", "record", "--service", "web", "--version", "v2")
    taken = json.loads(ws.ok("alerts", "ingest", str(path), "--json").stdout)
    (incident,) = taken["incidents_opened"]
    return str(incident)


def _site(ws: Workspace, name: str) -> tuple[str, dict[str, Any]]:
    built = ws.ok("status-page", "build", "--out", name)
    assert "Wrote" in built.stdout
    folder = ws.root / name
    return (folder / "index.html").read_text(), json.loads((folder / "status.json").read_text())


def _assert_clean(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text and HOST not in text
        assert "corp.internal" not in text and "5ecr3t" not in text


def _assert_self_contained(page: str) -> None:
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert "http://" not in page and "https://" not in page and "@import" not in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


def test_the_page_shows_only_what_was_written_for_the_public(workspace: Workspace) -> None:
    ws = workspace
    (ws.root / "scripts" / "chatty.sh").write_text(CHATTY)
    (ws.root / "scripts" / "chatty.sh").chmod(0o755)
    ws.configure(
        options=[script_option("chatty", "chatty.sh")],
        notifications=[
            {"name": "inbox", "kind": "file", "path": "inbox.log", "audience": "on-call"},
            {
                "name": "room",
                "kind": "file",
                "path": "room.log",
                "audience": "stakeholders",
                "format": "markdown",
            },
        ],
    )
    incident = _planted(ws)
    ws.ok("approve", incident, "--yes", "--as", "on-call")
    ws.ok("notify", incident, "--audience", "on-call", "--message", f"ssh {HOST}, key {SECRET}")
    ws.ok("notify", incident, "--audience", "stakeholders", "--public", "--message", PUBLIC)

    page, status = _site(ws, "open")

    (shown,) = status["open_incidents"]
    assert shown["id"] == incident and shown["service"] == "web"
    assert shown["state"] == public_state("planning") == "Identified"
    # The public words as written (the channel's Markdown escaping undone), escaped as HTML.
    assert shown["latest_update"]["text"] == f"Identified: {PUBLIC}"
    assert "some payments fail; we are rolling back &lt;b&gt;checkout&lt;/b&gt; [v2]." in (
        page.lower()
    )
    assert status["services"] == [{"name": "web", "state": "Identified", "incidents_in_history": 1}]
    assert status["summary"] == "1 open incident" and "1 open incident" in page
    _assert_self_contained(page)

    ws.ok("plan", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)
    ws.ok("validate", incident, "--yes", "--as", "on-call")

    done_page, done = _site(ws, "done")
    assert done["open_incidents"] == [] and done["summary"] == "All services operational"
    (past,) = done["history"]
    assert past["state"] == public_state("monitoring") and past["resolved_at"]
    assert past["latest_update"]["text"] == "Resolved: The problem with web is resolved."
    assert done["services"][0]["state"] == "Operational"
    assert "The problem with web is resolved." in done_page

    # The secret and the host were really recorded, where the team reads them...
    report = ws.read(incident, "mitigation-execution-report.json")
    assert f"connecting to {HOST} with token {SECRET}" in report
    assert SECRET in ws.read(incident, "communication-log.md")
    assert HOST in ws.read(incident, "incident-intake-log.md")
    # ...and nowhere the public reads.
    _assert_clean(page, json.dumps(status), done_page, json.dumps(done))

    # A SEV1 resolved: its responders and stakeholders are invited to the review.
    for log in ("inbox.log", "room.log"):
        invite = (ws.root / log).read_text()
        assert "Post-incident review" in invite and f"ic postmortem {incident}" in invite

    # `ic serve` renders the same page from the store on request, a new update within seconds.
    server = Server(ws.root, ws.env, "--no-probes")
    try:
        served = server.client.get("/status")
        served_json = server.client.get("/status.json")
        assert served.status_code == 200 and served.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in served.headers["content-security-policy"]
        assert served_json.json()["history"][0]["id"] == incident
        _assert_clean(served.text, served_json.text)
        _assert_self_contained(served.text)
        ws.ok(
            "notify", incident, "--audience", "stakeholders", "--public", "--message", "All good."
        )
        until(
            lambda: "All good." in server.client.get("/status").text,
            "the new public update on the served page",
        )
    finally:
        assert "Traceback" not in server.stop()


def test_each_status_shows_the_public_state_the_messages_define(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    confirmed = ws.declare()
    hidden = ws.declare("a signal nobody confirmed")
    settings = load_settings(ws.root / "ic.yaml")
    store = open_store(ws.database_url)
    seen = set()
    try:
        with store.session() as session:
            row = session.get(Incident, confirmed)
            assert row is not None
            row.severity, row.severity_confirmed = "SEV2", True
        for status in Status:
            with store.session() as session:
                row = session.get(Incident, confirmed)
                assert row is not None
                row.status = status.value
            found = build_status(store, settings)
            shown = [*found["open_incidents"], *found["history"]]
            assert all(i["id"] != hidden for i in shown), "an unconfirmed signal is not public"
            if status == Status.FALSE_POSITIVE:
                assert shown == []
                continue
            (item,) = shown
            assert item["state"] == public_state(status.value), status
            assert item["open"] is (status not in ("resolved", "monitoring", "closed"))
            seen.add(item["state"])
        assert seen == set(PUBLIC_STATES)
        # Older than 90 days and done: gone from the history.
        with store.session() as session:
            row = session.get(Incident, confirmed)
            assert row is not None
            row.status, row.detected_at = "closed", utcnow() - timedelta(days=91)
        assert build_status(store, settings)["history"] == []
    finally:
        store.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_folder_that_cannot_be_written_is_a_clear_error(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    (ws.root / "taken").write_text("a file, not a folder")

    assert_clean_error(
        ws.ic("status-page", "build", "--out", "taken"), 2, "cannot write the status page"
    )
    empty_page, empty = _site(ws, "empty")
    assert empty["summary"] == "All services operational" and empty["open_incidents"] == []
    assert "None." in empty_page and Path(ws.root / "empty" / "status.json").is_file()
