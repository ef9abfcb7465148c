"""`ic metrics`, `GET /api/v1/metrics` and the gauges on `/metrics`, on a seeded history whose
timestamps are known, so every median and p90 (nearest rank) is known exactly; and
`ic alerts tuning` over alerts taken in and an incident dismissed as a false positive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from incident_commander.store.db import open_store
from incident_commander.store.models import Alert, Decision, Execution, Incident
from tests.conftest import assert_clean_error
from tests.server import Server
from tests.workspace import Workspace

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 2026-W10
PERIOD = ("--since", "2026-03-02", "--until", "2026-03-22")  # W10 to W12, the 22nd included


@dataclass
class Seed:
    """One incident of the history: seconds from its first signal (or detection) to each step."""

    id: str
    day: int
    detect: float
    service: str = "web"
    status: str = "planning"
    severity: str | None = None
    confirmed: bool = False
    ack: float | None = None  # detected -> acknowledged_at
    person_answer: float | None = None  # detected -> first answer by a person
    mitigate: float | None = None  # first signal -> mitigated
    recover: float | None = None
    resolve: float | None = None
    planned: bool = False
    ready: bool = False
    executed: bool = False
    closed: bool = False


HISTORY = [
    Seed("INC-01", 0, 70, status="closed", severity="SEV1", confirmed=True, ack=30,
         mitigate=1000, recover=1200, resolve=1300, planned=True, ready=True, executed=True,
         closed=True),
    Seed("INC-02", 0, 10, status="closed", severity="SEV2", confirmed=True, ack=60,
         mitigate=100, recover=150, resolve=200, planned=True, ready=True, executed=True,
         closed=True),
    Seed("INC-03", 1, 100, status="closed", severity="SEV2", confirmed=True, ack=90,
         mitigate=400, recover=350, resolve=400, planned=True, ready=True, executed=True,
         closed=True),
    Seed("INC-04", 2, 40, status="monitoring", severity="SEV3", confirmed=True, ack=120,
         mitigate=200, recover=250, resolve=300, planned=True, ready=True, executed=True),
    Seed("INC-05", 3, 20, status="validating", severity="SEV3", confirmed=True, ack=150,
         mitigate=300, planned=True, ready=False, executed=True),
    Seed("INC-06", 4, 90, severity="SEV3", confirmed=True, ack=180),
    # Acknowledged late, but a person answered after 12 s: MTTA takes the earlier.
    Seed("INC-07", 7, 30, severity="SEV4", confirmed=True, ack=300, person_answer=12),
    Seed("INC-08", 8, 60, status="triaged", severity="SEV2"),
    Seed("INC-09", 9, 50, status="detected"),
    Seed("INC-10", 10, 80, status="false_positive"),
    # Outside the period, on another service.
    Seed("INC-00", -20, 5, service="api", status="detected"),
    Seed("INC-11", 23, 7, service="api", status="detected"),
]  # fmt: skip


def _after(start: datetime, seconds: float | None) -> datetime | None:
    return None if seconds is None else start + timedelta(seconds=seconds)


def _incident(seed: Seed) -> Incident:
    first = MONDAY + timedelta(days=seed.day)
    detected = first + timedelta(seconds=seed.detect)
    resolved = _after(first, seed.resolve)
    return Incident(
        id=seed.id,
        title=f"{seed.service} errors",
        service=seed.service,
        source="monitoring-alert",
        detected_by="alertmanager",
        symptoms=[],
        status=seed.status,
        severity=seed.severity,
        severity_confirmed=seed.confirmed,
        first_signal_at=first,
        detected_at=detected,
        acknowledged_at=_after(detected, seed.ack),
        mitigated_at=_after(first, seed.mitigate),
        recovered_at=_after(first, seed.recover),
        resolved_at=resolved,
        closed_at=resolved + timedelta(minutes=5) if seed.closed and resolved else None,
        updated_at=detected,
        assessment={"answers": {}} if seed.severity else None,
        plan={"chosen": ["switch"]} if seed.planned else None,
        readiness={"passed": seed.ready} if seed.planned else None,
    )


def _decide(session: Session, inc: Incident, kind: str, after: float, answer: str, by: str) -> int:
    decision = Decision(
        incident_id=inc.id,
        kind=kind,
        subject=kind,
        prompt="p",
        asked_at=inc.detected_at,
        answered_at=inc.detected_at + timedelta(seconds=after),
        answer=answer,
        approver="on-call" if by == "person" else "policy:auto",
        approver_type=by,
    )
    session.add(decision)
    session.flush()
    return decision.id


def _decisions_and_runs(session: Session, seed: Seed, inc: Incident) -> None:
    # A policy's instant answer is not a person's: it must not shorten MTTA.
    _decide(session, inc, "severity", 1, "no", "policy")
    if seed.person_answer is not None:
        _decide(session, inc, "severity", seed.person_answer, "no", "person")
    if not seed.planned:
        return
    approval = _decide(session, inc, "mitigation", 2000, "yes", "person")
    if seed.executed:
        for attempt, status in enumerate(("failed", "succeeded")):
            session.add(
                Execution(
                    incident_id=seed.id,
                    idempotency_key=f"{seed.id}:{attempt}",
                    option_name="switch",
                    kind="release-symlink",
                    decision_id=approval,
                    status=status,
                    owner="test:1",
                    started_at=inc.detected_at,
                    finished_at=inc.detected_at,
                )
            )


def _alert(
    name: str, fingerprint: str, outcome: str, seen: datetime, incident: str | None
) -> Alert:
    return Alert(
        source="generic",
        fingerprint=fingerprint,
        status="firing",
        alertname=name,
        group_key="web",
        summary=name,
        starts_at=seen,
        first_seen=seen,
        last_seen=seen,
        outcome=outcome,
        incident_id=incident,
    )


ALERTS = [
    ("HighErrorRate", "e1", "joined", 0, "INC-01"),
    ("HighErrorRate", "e2", "flapping", 1, "INC-02"),
    ("HighErrorRate", "e3", "duplicate", 2, None),
    ("HighErrorRate", "e4", "joined", 10, "INC-10"),  # its incident: a false positive
    ("DiskFull", "d1", "joined", 1, "INC-02"),
    ("DiskFull", "d2", "cleared", 3, None),
    ("Latency", "l1", "maintenance", 4, None),
    ("OldRule", "o1", "maintenance", -20, None),  # outside the period
]


def seed_history(database_url: str) -> None:
    """Write the history straight through the store's models."""
    store = open_store(database_url)
    try:
        with store.session() as session:
            incidents = [_incident(seed) for seed in HISTORY]
            session.add_all(incidents)
            session.flush()
            for seed, inc in zip(HISTORY, incidents, strict=True):
                _decisions_and_runs(session, seed, inc)
            for name, fingerprint, outcome, day, incident in ALERTS:
                seen = MONDAY + timedelta(days=day)
                session.add(_alert(name, fingerprint, outcome, seen, incident))
            session.commit()
    finally:
        store.dispose()


def configured(root: Path, database_url: str) -> Workspace:
    """A workspace with its ic.yaml, its service not running."""
    root.mkdir()
    ws = Workspace(root, database_url)
    ws.configure()
    return ws


@pytest.fixture
def history(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    """A configured workspace whose store holds ``HISTORY``."""
    ws = configured(tmp_path / "ws", database_url)
    seed_history(database_url)
    yield ws


def assert_period_numbers(data: dict[str, Any]) -> None:
    """The numbers of W10 to W12 of ``HISTORY``, worked out by hand."""
    assert data["incidents"] == 10
    assert data["by_severity"] == {"SEV1": 1, "SEV2": 3, "SEV3": 3, "SEV4": 1, "unassessed": 2}
    assert data["by_service"] == {"web": 10}
    assert data["percentile"] == "nearest-rank"
    durations = {
        name: (d["count"], d["median_s"], d["p90_s"]) for name, d in data["durations"].items()
    }
    assert durations == {
        # 10..100 s: median between 50 and 60; p90 the 9th of 10 (interpolating would say 91).
        "time_to_detect": (10, 55.0, 90.0),
        # 12 (a person's answer, not the later acknowledgement), 30..180: p90 the 7th of 7.
        "time_to_acknowledge": (7, 90.0, 180.0),
        "time_to_mitigate": (5, 300.0, 1000.0),
        # 150, 250, 350, 1200: median between 250 and 350; p90 the 4th of 4.
        "time_to_recover": (4, 300.0, 1200.0),
        "time_to_resolve": (4, 350.0, 1300.0),
    }
    gates = {g["gate"]: (g["counted"], g["passed"], g["rate"]) for g in data["gates"]}
    assert gates == {"1": (8, 7, 0.875), "2": (5, 4, 0.8), "3": (5, 4, 0.8), "4": (4, 3, 0.75)}
    rules = [(r["rule"], r["alerts"], r["false_positives"]) for r in data["alert_rules"]]
    assert rules == [("Latency", 1, 1), ("HighErrorRate", 4, 3), ("DiskFull", 2, 0)]
    weeks = [(w["week"], w["incidents"], w["false_positives"]) for w in data["weeks"]]
    assert weeks == [("2026-W10", 6, 0), ("2026-W11", 4, 1), ("2026-W12", 0, 0)]
    assert data["weeks"][0]["median_time_to_recover_s"] == 300.0
    assert data["action_items"] == {"open": 0, "overdue": 0}


def test_metrics_of_a_seeded_history_give_exact_medians_and_p90s(history: Workspace) -> None:
    data = json.loads(history.ok("metrics", *PERIOD, "--json").stdout)

    assert_period_numbers(data)
    assert data["period"] == {
        "since": "2026-03-02T00:00:00.000000Z",
        "until": "2026-03-23T00:00:00.000000Z",
        "service": None,
    }


def test_metrics_by_service_and_over_all_time(history: Workspace) -> None:
    api = json.loads(history.ok("metrics", "--service", "api", "--json").stdout)
    everything = json.loads(history.ok("metrics", "--json").stdout)

    assert api["incidents"] == 2
    assert api["durations"]["time_to_detect"] == {
        "short": "MTTD",
        "from": "first signal",
        "to": "detected (incident opened)",
        "count": 2,
        "median_s": 6.0,
        "p90_s": 7.0,
    }
    assert api["alert_rules"] == []  # every alert of the history is grouped under web
    assert everything["incidents"] == 12
    assert everything["by_service"] == {"web": 10, "api": 2}
    assert everything["durations"]["time_to_detect"]["median_s"] == 45.0  # 5, 7, 10..100
    assert ("OldRule", 1) in [(r["rule"], r["alerts"]) for r in everything["alert_rules"]]


def test_metrics_are_readable_with_a_weekly_chart(history: Workspace) -> None:
    out = history.ok("metrics", *PERIOD).stdout

    assert "10 incident(s) detected from 2026-03-02T00:00:00.000000Z" in out
    assert "By severity: SEV1 1, SEV2 3, SEV3 3, SEV4 1, unassessed 2" in out
    mttr = next(line for line in out.splitlines() if "MTTR time to recover" in line)
    assert "300 s" in mttr and "1200 s" in mttr
    assert "Action items: open 0, overdue 0" in out
    chart = [line.rstrip() for line in out.splitlines() if line.startswith("2026-W")]
    assert chart == [
        "2026-W10  ######" + " " * 34 + "  6",
        "2026-W11  ###f" + " " * 36 + "  4",
        "2026-W12  " + " " * 40 + "  0",
    ]


def test_metrics_refuse_a_bad_period(history: Workspace) -> None:
    assert_clean_error(history.ic("metrics", "--since", "last week"), 2, "since: expected a date")
    assert_clean_error(
        history.ic("metrics", "--since", "2026-03-10", "--until", "2026-03-01"),
        2,
        "must come before until",
    )
    assert_clean_error(history.ic("metrics", "--service", "nope"), 2, "unknown service 'nope'")


def test_api_and_gauges_give_the_same_numbers(tmp_path: Path, database_url: str) -> None:
    ws = configured(tmp_path / "srv", database_url)
    seed_history(database_url)
    server = Server(ws.root, ws.env, "--no-probes")
    try:
        answer = server.client.get(
            "/api/v1/metrics", params={"since": "2026-03-02", "until": "2026-03-22"}
        )
        refused = server.client.get("/api/v1/metrics", params={"since": "yesterday"})
        gauges = server.client.get("/metrics").text
    finally:
        assert "Traceback" not in server.stop()

    assert answer.status_code == 200
    assert_period_numbers(answer.json())
    assert refused.status_code == 422 and "since: expected a date" in refused.json()["error"]
    for line in (
        'ic_incident_duration_median_seconds{measure="time_to_recover"} 300.0',
        'ic_incident_duration_p90_seconds{measure="time_to_recover"} 1200.0',
        'ic_incident_duration_p90_seconds{measure="time_to_acknowledge"} 180.0',
        'ic_gate_pass_ratio{gate="4"} 0.75',
        'ic_alert_rule_false_positive_ratio{rule="HighErrorRate"} 0.75',
        'ic_incidents_by_service{service="api"} 2.0',
    ):
        assert line in gauges, gauges
    assert 'ic_incidents{severity="SEV2",status="closed"} 2.0' in gauges  # kept as it was


def _ingest(ws: Workspace, name: str) -> dict[str, Any]:
    path = ws.root / "alert.json"
    alert = {"summary": "checkout 5xx", "service": "web", "labels": {"alertname": name}}
    path.write_text(json.dumps({"alerts": [alert]}))
    return dict(json.loads(ws.ok("alerts", "ingest", str(path), "--no-run", "--json").stdout))


def test_alert_tuning_gathers_the_feedback_of_every_incident(
    tmp_path: Path, database_url: str
) -> None:
    ws = configured(tmp_path / "ws", database_url)
    quiet = json.loads(ws.ok("alerts", "tuning", "--json").stdout)
    (incident,) = _ingest(ws, "CheckoutErrors")["incidents_opened"]
    assert _ingest(ws, "CheckoutErrors")["alerts"][0]["outcome"] == "duplicate"
    ws.ok("dismiss", incident, "--reason", "load test traffic", "--as", "on-call")

    report = json.loads(ws.ok("alerts", "tuning", "--json").stdout)
    shown = ws.ok("alerts", "tuning").stdout

    assert quiet["rules"] == []
    (rule,) = report["rules"]
    assert (rule["rule"], rule["alerts"], rule["false_positives"]) == ("CheckoutErrors", 1, 1)
    assert rule["false_positive_rate"] == 1.0
    assert rule["outcomes"] == {"duplicate": 1}
    advice = {s["suggestion"]: s for s in rule["suggestions"]}
    repeat = "the sender repeats this alert; raise its repeat or group interval"
    assert advice[repeat]["seen_in"] == [incident]
    dismissal = next(s for text, s in advice.items() if text.startswith("lengthen the alert's"))
    assert dismissal["reasons"] == ["load test traffic"]
    assert report["files_read"] == [
        "alert-tuning-feedback.json",
        f"{incident}/alert-tuning-feedback.json",
    ]
    assert "CheckoutErrors" in shown and "raise its repeat or group interval" in shown


def test_alert_tuning_names_an_unreadable_feedback_file(tmp_path: Path) -> None:
    ws = configured(tmp_path / "ws", f"sqlite:///{tmp_path / 'ic.db'}")
    folder = ws.root / ".artifacts" / "incidents" / "INC-X"
    folder.mkdir(parents=True)
    (folder / "alert-tuning-feedback.json").write_text("{not json")

    result = ws.ok("alerts", "tuning")

    assert "Skipped INC-X/alert-tuning-feedback.json: not readable JSON" in result.stdout
