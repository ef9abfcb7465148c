"""Action items: added, listed, done; in the report, the metrics and the API; overdue ones and
overdue post-mortems reminded through the outbox by the watcher, once; the retrospective."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update

from incident_commander.store import migrations
from incident_commander.store.db import open_store
from incident_commander.store.models import ActionItem, Incident
from tests.conftest import assert_clean_error
from tests.server import Server
from tests.workspace import Workspace


def _resolved(ws: Workspace) -> str:
    ws.configure()
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)
    ws.ok("validate", incident, "--yes", "--as", "on-call")
    return incident


def _add(ws: Workspace, incident: str, title: str, owner: str, due: str, *extra: str) -> int:
    command = ("action", "add", incident, "--title", title, "--owner", owner, "--due", due)
    out = ws.ok(*command, "--json", *extra)
    return int(json.loads(out.stdout)["n"])


def _listed(ws: Workspace, *args: str) -> list[dict[str, Any]]:
    return list(json.loads(ws.ok("action", "list", *args, "--json").stdout))


def test_action_items_are_added_listed_done_and_reported(workspace: Workspace) -> None:
    ws = workspace
    incident = _resolved(ws)
    late = _add(ws, incident, "rotate the deploy key", "platform team", "2020-01-01")
    soon = _add(
        ws, incident, "alert on config drift", "sre", "2999-01-01", "--kind", "detection",
        "--priority", "high",
    )  # fmt: skip

    listed = _listed(ws, incident)
    assert [(i["n"], i["title"], i["owner"], i["kind"], i["priority"]) for i in listed] == [
        (late, "rotate the deploy key", "platform team", "prevention", "medium"),
        (soon, "alert on config drift", "sre", "detection", "high"),
    ]
    assert [i["n"] for i in _listed(ws, "--overdue")] == [late]
    assert [i["n"] for i in _listed(ws, "--owner", "sre")] == [soon]
    table = ws.ok("action", "list").stdout
    assert "rotate the deploy key" in table and "open (OVERDUE)" in table
    metrics = json.loads(ws.ok("metrics", "--json").stdout)
    assert metrics["action_items"] == {"open": 2, "overdue": 1}

    done = json.loads(
        ws.ok("action", "done", str(late), "--note", "key rotated", "--as", "Dana", "--json").stdout
    )
    assert (done["status"], done["done_by"], done["note"]) == ("done", "Dana", "key rotated")
    assert _listed(ws, "--overdue") == []
    assert json.loads(ws.ok("metrics", "--json").stdout)["action_items"] == {
        "open": 1,
        "overdue": 0,
    }
    report = ws.read(incident, "INCIDENT-REPORT.md")
    assert "## Cause levels\n\nNot recorded yet: symptom → proximate cause" in report
    assert f"| {late} | rotate the deploy key | platform team | 2020-01-01 | prevention |" in report
    assert f"| {soon} | alert on config drift | sre | 2999-01-01 | detection | high | open |" in (
        report
    )
    timeline = ws.read(incident, "incident-timeline.md")
    assert f"action item #{late} done by Dana: rotate the deploy key — key rotated" in timeline
    assert ws.ic("evidence", "verify", incident).returncode == 0

    assert_clean_error(ws.ic("action", "done", str(late)), 4, "is already done")
    assert_clean_error(ws.ic("action", "done", "999"), 2, "no action item #999")
    bad = ("action", "add", incident, "--title", "t", "--owner", "o")
    assert_clean_error(ws.ic(*bad, "--due", "next week"), 2, "expected a date as YYYY-MM-DD")
    assert_clean_error(
        ws.ic(*bad, "--due", "2027-01-01", "--kind", "blame"), 2, "--kind 'blame'", "prevention"
    )
    assert_clean_error(
        ws.ic(*bad, "--due", "2027-01-01", "--priority", "urgent"), 2, "--priority 'urgent'"
    )
    assert_clean_error(ws.ic("action", "list", "INC-NOPE"), 3, "no incident with id")


def test_overdue_items_and_post_mortems_are_reminded_once(workspace: Workspace) -> None:
    ws = workspace
    incident = _resolved(ws)
    late = _add(ws, incident, "rotate the deploy key", "platform team", "2020-01-01")
    shown = ws.ok("show", incident).stdout
    assert "Post-mortem: due " in shown and "(pending; 0 why(s), 1 prevention item(s))" in shown

    ws.ok("watch", "--once")
    ws.ok("watch", "--once")  # the same day: no second reminder

    inbox = (ws.root / "inbox.log").read_text()
    assert inbox.count(f"action item #{late} overdue") == 1
    assert f"Action item #{late} of {incident} is overdue by" in inbox
    assert "owner platform team, due 2020-01-01" in inbox
    timeline = ws.read(incident, "incident-timeline.md")
    assert timeline.count("action.reminded") == 1
    assert "post-mortem overdue" not in inbox

    store = open_store(ws.database_url)
    try:
        with store.session() as session:
            resolved = session.get(Incident, incident).resolved_at  # type: ignore[union-attr]
            session.execute(
                update(Incident)
                .where(Incident.id == incident)
                .values(resolved_at=resolved - timedelta(days=8))
            )
    finally:
        store.dispose()
    shown = ws.ok("show", incident).stdout
    assert "(OVERDUE; 0 why(s), 1 prevention item(s))" in shown

    ws.ok("watch", "--once")
    ws.ok("watch", "--once")

    inbox = (ws.root / "inbox.log").read_text()
    assert inbox.count(f"{incident}: post-mortem overdue") == 1
    assert "0 why(s) and 1 prevention item(s) recorded" in inbox
    assert f"Record it with `ic postmortem {incident}`" in inbox
    assert ws.read(incident, "incident-timeline.md").count("postmortem.overdue") == 1


def test_retrospective_is_written_as_evidence(workspace: Workspace) -> None:
    ws = workspace
    incident = _resolved(ws)
    ws.ok(
        "postmortem",
        incident,
        "--why",
        "v2 needs a config key production lacks",
        "--went-well",
        "the rollback took under a second",
        "--went-poorly",
        "the first page went unanswered for four minutes",
        "--action",
        "write the config checklist into the runbook;platform team;2026-12-15;process",
    )

    path = ws.ok("retro", incident).stdout.strip()

    text = (ws.evidence(incident) / "retrospective.md").read_text()
    assert path.endswith("retrospective.md")
    assert text.startswith(f"# Retrospective — {incident}")
    for line in (
        "## Timeline highlights",
        "| incident.declared |",
        "- the rollback took under a second",
        "- the first page went unanswered for four minutes",
        "| Gate 3: Recovery validation | pass |",
        "| Gate 4: Resolution & documentation | FAIL |",
        "| write the config checklist into the runbook | platform team | 2026-12-15 | process |",
        "Blameless check: no finding.",
        "- Gate 4: Resolution & documentation failed (post-mortem: a prevention action item",
        "- Process change from the review: write the config checklist into the runbook",
        "- Went poorly, to address in the protocol or its runbooks: the first page went",
    ):
        assert line in text, line
    verified = ws.ic("evidence", "verify", incident)
    assert verified.returncode == 0, verified.stdout


def test_the_api_lists_adds_and_finishes_action_items(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    server = Server(ws.root, ws.env, "--no-probes")
    try:
        added = server.post(
            f"/api/v1/incidents/{incident}/actions",
            {"title": "alert on config drift", "owner": "sre", "due": "2026-12-15"},
        )
        assert added.status_code == 201, added.text
        item = added.json()
        assert (item["title"], item["kind"], item["status"]) == (
            "alert on config drift",
            "prevention",
            "open",
        )
        listed = server.client.get(f"/api/v1/incidents/{incident}/actions").json()
        assert [i["n"] for i in listed] == [item["n"]]
        done = server.post(f"/api/v1/actions/{item['n']}/done", {"note": "shipped"})
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["note"]) == ("done", "shipped")
        again = server.post(f"/api/v1/actions/{item['n']}/done", {})
        assert again.status_code == 409, again.text
        bad = server.post(
            f"/api/v1/incidents/{incident}/actions",
            {"title": "x", "owner": "y", "due": "soon"},
        )
        assert bad.status_code == 422
        missing = server.client.get("/api/v1/incidents/INC-NOPE/actions")
        assert missing.status_code == 404
    finally:
        server.stop()


def _before() -> str:
    """The revision the action-items migration starts from."""
    versions = Path(migrations.__file__).parent / "versions"
    (path,) = versions.glob("*_action_items.py")
    spec = importlib.util.spec_from_file_location("action_items_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.down_revision)


def test_action_items_recorded_before_the_table_are_copied_in(database_url: str) -> None:
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    store = open_store(database_url)
    try:
        with store.session() as session:
            session.add(
                Incident(
                    id="INC-20260101-0001",
                    title="checkout returns 500",
                    service="web",
                    source="user-report",
                    detected_by="on-call",
                    status="closed",
                    first_signal_at=moment,
                    detected_at=moment,
                    updated_at=moment,
                    resolved_at=moment,
                    resolution={
                        "review": {
                            "actions": [
                                {"text": "check config", "owner": "platform", "due": "2026-02-01"},
                                {"text": "no date", "owner": "platform", "due": "soon"},
                            ]
                        }
                    },
                )
            )
        with store.engine.begin() as connection:  # back to the schema before the table
            connection.execute(text("DROP TABLE action_items"))
            connection.execute(
                text("UPDATE alembic_version SET version_num = :before"), {"before": _before()}
            )
    finally:
        store.dispose()

    store = open_store(database_url)
    try:
        with store.session() as session:
            items = list(session.scalars(select(ActionItem)))
            assert [(i.incident_id, i.title, i.owner, i.due, i.kind, i.status) for i in items] == [
                ("INC-20260101-0001", "check config", "platform", date(2026, 2, 1),
                 "prevention", "open"),
            ]  # fmt: skip
            assert items[0].created_at == moment
    finally:
        store.dispose()
