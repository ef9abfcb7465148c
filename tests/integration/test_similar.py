"""Similar past incidents on a seeded history where the right answer is known: `ic similar`,
`ic show`, the report and `GET /api/v1/incidents/{id}/similar` rank the same incidents, with
the shared features and scores worked out by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from incident_commander.protocol.severity import Answers
from incident_commander.store.db import open_store
from incident_commander.store.models import Decision, Deploy, Execution, Incident, Signal
from tests.conftest import assert_clean_error
from tests.server import Server
from tests.workspace import Workspace

NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)  # when the incident under study was detected
TARGET = "INC-20260410-0001"


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


@dataclass
class Past:
    """An incident of the history and what it left on record."""

    id: str
    service: str
    title: str
    detected: datetime
    ended: datetime | None
    symptoms: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    components: list[str] = field(default_factory=list)
    release: str | None = None
    status: str = "closed"
    resolution: dict[str, Any] | None = None


SAME = {"alertname": "HighErrorRate", "service": "checkout", "env": "prod", "team": "payments"}
HISTORY = [
    # The right answer: the same service, alert, words, component and suspect release.
    Past("INC-20260301-0001", "checkout", "Checkout returns 500 errors", ago(900), ago(899),
         ["HTTP 500 on /pay"], SAME, ["payments-db"], "v42",
         resolution={"summary": "recovered after switch-release: v42 → v41"}),
    # Same service and labels, another alert and other words.
    Past("INC-20260302-0001", "checkout", "Checkout pages slow", ago(800), ago(799),
         ["p99 latency 4 s"], {**SAME, "alertname": "SlowResponses"},
         resolution={"summary": "recovered"}),
    # Another service, the same alert.
    Past("INC-20260303-0001", "search", "Search returns 500 errors", ago(700), ago(699),
         [], {**SAME, "service": "search", "team": "search"},
         resolution={"summary": "recovered after flag-off"}),
    # Dismissed as a false positive before the incident opened.
    Past("INC-20260304-0001", "checkout", "Checkout 500 spike during load test", ago(600), None,
         [], {"alertname": "HighErrorRate", "service": "checkout", "env": "staging"},
         status="false_positive",
         resolution={"false_positive": {"reason": "load test", "at": "2026-03-16T00:00:00Z"}}),
    # As close as can be, but still open when the incident was detected: not a past incident.
    Past("INC-20260409-0001", "checkout", "Checkout returns 500 errors", ago(5), None,
         ["HTTP 500 on /pay"], SAME, ["payments-db"], "v42", status="executing"),
    # Nothing in common.
    Past("INC-20260305-0001", "billing", "Invoice emails delayed", ago(500), ago(499),
         [], {"alertname": "QueueBacklog", "service": "billing", "queue": "mail"}),
]  # fmt: skip
RIGHT_ANSWER = "INC-20260301-0001"


def _answers(components: list[str]) -> dict[str, Any]:
    return Answers(production_affected=True, impacted_components=components).model_dump()


def _deploy(session: Session, service: str, version: str) -> int:
    deploy = Deploy(service=service, version=version, deployed_at=ago(1000))
    session.add(deploy)
    session.flush()
    return deploy.id


def _incident(session: Session, past: Past) -> Incident:
    inc = Incident(
        id=past.id,
        title=past.title,
        service=past.service,
        source="monitoring-alert",
        detected_by="alertmanager",
        symptoms=past.symptoms,
        status=past.status,
        first_signal_at=past.detected,
        detected_at=past.detected,
        resolved_at=past.ended,
        closed_at=past.ended,
        updated_at=past.detected,
        assessment={"answers": _answers(past.components)},
        suspect_deploy_id=_deploy(session, past.service, past.release) if past.release else None,
        resolution=past.resolution,
    )
    session.add(inc)
    if past.labels:
        session.add(_signal(past.id, past.detected, past.labels))
    session.flush()
    return inc


def _signal(incident_id: str, at: datetime, labels: dict[str, str]) -> Signal:
    return Signal(
        incident_id=incident_id,
        at=at,
        source="alertmanager",
        detected_by="alertmanager",
        summary=labels.get("alertname", "alert"),
        details={"labels": labels, "annotations": {}},
    )


def _run(session: Session, incident_id: str, option: str, status: str, finished: datetime,
         before: str | None = None, after: str | None = None) -> None:  # fmt: skip
    decision = Decision(
        incident_id=incident_id, kind="mitigation", subject=option, prompt="p", asked_at=finished
    )
    session.add(decision)
    session.flush()
    session.add(
        Execution(
            incident_id=incident_id,
            idempotency_key=f"{incident_id}:{option}:{status}:{finished.isoformat()}",
            option_name=option,
            kind="script",
            decision_id=decision.id,
            status=status,
            owner="test:1",
            started_at=finished,
            finished_at=finished,
            release_before=before,
            release_after=after,
        )
    )


def seed_history(database_url: str) -> None:
    """The history above, then the incident under study (resolved, so it has a report)."""
    store = open_store(database_url)
    try:
        with store.session() as session:
            for past in HISTORY:
                _incident(session, past)
            _run(session, RIGHT_ANSWER, "restart", "failed", ago(899.5))
            _run(session, RIGHT_ANSWER, "switch-release", "succeeded", ago(899.2), "v42", "v41")
            # Recorded after the incident was detected: neither what worked nor a shared alert.
            _run(session, RIGHT_ANSWER, "restart", "succeeded", ago(-2))
            session.add(_signal(RIGHT_ANSWER, ago(-2), {"alertname": "DiskFull"}))
            target = Past(TARGET, "checkout", "Checkout returns 500 after deploy", NOW, None,
                          ["HTTP 500 on /pay"], SAME, ["payments-db"], "v42", status="resolved",
                          resolution={"summary": "recovered after switch-release"})  # fmt: skip
            _incident(session, target).resolved_at = ago(-1)
            session.commit()
    finally:
        store.dispose()


@pytest.fixture
def history(tmp_path: Path, database_url: str) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    ws = Workspace(root, database_url)
    ws.configure()
    seed_history(database_url)
    return ws


# Worked out by hand (weights: service .25, words .30, alerts .20, labels .10, components .10,
# release .05). Words of the incident: checkout returns 500 deploy http pay.
EXPECTED = [
    # words: checkout returns 500 http pay of 7 -> .3 * 5/7; the rest in full.
    (RIGHT_ANSWER, 0.914, ["service", "words", "alerts", "labels", "components", "release"]),
    # .25 + words checkout 500 of 10 (.06) + alert (.20).
    ("INC-20260304-0001", 0.51, ["service", "words", "alerts"]),
    # .25 + words checkout of 10 (.03) + labels env=prod team=payments (.10).
    ("INC-20260302-0001", 0.38, ["service", "words", "labels"]),
    # words returns 500 of 8 (.075) + alert (.20) + labels env=prod of 3 (.033).
    ("INC-20260303-0001", 0.308, ["words", "alerts", "labels"]),
]


def test_the_closest_past_incident_comes_first_with_what_worked(history: Workspace) -> None:
    data = json.loads(history.ok("similar", TARGET, "--json").stdout)

    ranked = [(m["id"], m["score"], [s["feature"] for s in m["shared"]]) for m in data["similar"]]
    assert ranked == EXPECTED
    best = data["similar"][0]
    assert best["what_worked"] == "switch-release (v42 → v41)"
    assert best["resolution"] == "recovered after switch-release: v42 → v41"
    shared = {s["feature"]: s for s in best["shared"]}
    assert shared["words"]["values"] == ["500", "checkout", "http", "pay", "returns"]
    assert shared["words"]["overlap"] == 0.714 and shared["words"]["points"] == 0.214
    assert shared["alerts"]["values"] == ["HighErrorRate"]  # DiskFull came later
    assert shared["labels"]["values"] == ["env=prod", "team=payments"]
    assert shared["components"]["values"] == ["payments-db"]
    assert shared["release"]["values"] == ["v42"]
    assert data["similar"][1]["resolution"] == "false positive: load test"


def test_similar_is_readable_and_shown_by_ic_show(history: Workspace) -> None:
    listed = history.ok("similar", TARGET, "--limit", "2").stdout
    shown = history.ok("show", TARGET).stdout

    assert listed.index(RIGHT_ANSWER) < listed.index("INC-20260304-0001")
    assert "INC-20260302-0001" not in listed  # --limit 2
    assert "0.91" in listed and "switch-release (v42 → v41)" in listed
    assert "Similar past incidents" in shown and RIGHT_ANSWER in shown
    assert "INC-20260303-0001" not in shown  # ic show lists the closest three


def test_the_report_lists_similar_incidents_and_never_changes_afterwards(
    history: Workspace, database_url: str
) -> None:
    history.ok("report", TARGET)
    report = history.evidence(TARGET) / "INCIDENT-REPORT.md"
    written = report.read_text()
    # Later: the open look-alike is resolved, and another incident opens and ends.
    store = open_store(database_url)
    try:
        with store.session() as session:
            later = Past("INC-20260411-0001", "checkout", "Checkout returns 500 after deploy",
                         ago(-20), ago(-21), ["HTTP 500 on /pay"], SAME)  # fmt: skip
            _incident(session, later)
            look_alike = session.get(Incident, "INC-20260409-0001")
            assert look_alike is not None
            look_alike.status, look_alike.resolved_at = "closed", ago(-1)
            session.commit()
    finally:
        store.dispose()
    history.ok("report", TARGET)

    section = written.split("## Similar past incidents", 1)[1].split("\n---\n", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| INC-")]
    assert [row.split(":", 1)[0] for row in rows] == [f"| {m[0]}" for m in EXPECTED[:3]]
    assert "| 0.91 |" in rows[0] and "switch-release (v42 → v41)" in rows[0]
    assert "words: 500, checkout, http, pay, returns (+0.21)" in rows[0]
    assert report.read_text() == written


def test_an_incident_with_no_past_has_none(history: Workspace) -> None:
    first = HISTORY[0].id
    data = json.loads(history.ok("similar", first, "--json").stdout)

    assert data == {"incident_id": first, "similar": []}
    assert "none on record before this incident opened" in history.ok("similar", first).stdout
    assert_clean_error(history.ic("similar", "INC-NOPE"), 3, "no incident with id 'INC-NOPE'")


def test_the_api_gives_the_same_ranking(tmp_path: Path, database_url: str) -> None:
    root = tmp_path / "srv"
    root.mkdir()
    ws = Workspace(root, database_url)
    ws.configure()
    seed_history(database_url)
    server = Server(root, ws.env, "--no-probes")
    try:
        answer = server.client.get(f"/api/v1/incidents/{TARGET}/similar", params={"limit": 3})
        missing = server.client.get("/api/v1/incidents/INC-NOPE/similar")
    finally:
        assert "Traceback" not in server.stop()

    assert answer.status_code == 200
    assert [(m["id"], m["score"]) for m in answer.json()["similar"]] == [
        (m[0], m[1]) for m in EXPECTED[:3]
    ]
    assert missing.status_code == 404
