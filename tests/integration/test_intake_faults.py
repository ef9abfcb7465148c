"""One bad alert never costs another alert anything; our own failures lose nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from incident_commander.alerts.intake import AlertIntake, _Job
from incident_commander.alerts.signal import AlertSignal, fingerprint_of
from incident_commander.app import Commander
from incident_commander.clock import utcnow
from incident_commander.store.models import Alert, Delivery
from tests.conftest import run_ic
from tests.server import Server
from tests.workspace import Workspace

Factory = Callable[..., Server]

BAD_VALUES: list[tuple[str, Any]] = [
    ("starts_at", "0001-01-01T00:00:00+01:00"),
    ("starts_at", "9999-12-31T23:59:59-01:00"),
    ("summary", "checkout\x00errors"),
    ("service", "web\x00"),
    ("fingerprint", "abc\x00def"),
]


@pytest.fixture
def serve_on(tmp_path: Path, database_url: str) -> Iterator[Factory]:
    """Start `ic serve` (no probes) on SQLite or PostgreSQL."""
    started: list[Server] = []

    def start(**config: Any) -> Server:
        root = tmp_path / f"ws{len(started)}"
        root.mkdir()
        ws = Workspace(root, database_url)
        ws.configure(**config)
        server = Server(root, ws.env, "--no-probes")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def generic(n: int, **fields: Any) -> dict[str, Any]:
    return {"summary": f"checkout error {n}", "service": f"svc{n % 4}", **fields}


def test_poisoned_concurrent_deliveries_cost_the_good_ones_nothing(serve_on: Factory) -> None:
    server = serve_on()
    answers: dict[int, httpx.Response] = {}
    lock = threading.Lock()

    def deliver(numbers: list[int]) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for n in numbers:
                alert = generic(n)
                if n % 10 == 0:
                    field, value = BAD_VALUES[(n // 10) % len(BAD_VALUES)]
                    alert[field] = value
                answer = client.post("/webhooks/generic", json={"alerts": [alert]})
                with lock:
                    answers[n] = answer

    threads = [threading.Thread(target=deliver, args=(list(range(k, 120, 12)),)) for k in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 120
    for n, answer in sorted(answers.items()):
        if n % 10 == 0:
            field = BAD_VALUES[(n // 10) % len(BAD_VALUES)][0]
            assert answer.status_code == 422, (n, answer.text)
            assert f"alerts[0].{field}" in answer.json()["error"], answer.text
        else:
            assert answer.status_code == 200, (n, answer.text)
            entry = answer.json()["alerts"][0]
            assert entry["outcome"] in ("opened", "joined"), entry
            assert entry["incident_id"], entry
    incidents = server.client.get("/api/v1/incidents").json()
    assert sorted(i["service"] for i in incidents) == ["svc0", "svc1", "svc2", "svc3"]
    alerts = [
        a
        for i in incidents
        for a in server.client.get(f"/api/v1/incidents/{i['id']}").json()["alerts"]
    ]
    assert len(alerts) == 108
    assert "Traceback" not in server.stop()


def test_a_bad_alert_is_named_and_the_good_ones_of_its_delivery_are_taken(
    serve_on: Factory,
) -> None:
    server = serve_on()
    body = {"alerts": [generic(1), generic(2, starts_at="0001-01-01T00:00:00+01:00")]}
    answer = server.post("/webhooks/generic", body)
    assert answer.status_code == 422, answer.text
    data = answer.json()
    assert "alerts[1].starts_at" in data["error"]
    assert data["rejected"] == [
        {"index": 1, "field": "alerts[1].starts_at", "reason": data["rejected"][0]["reason"]}
    ]
    assert [a["outcome"] for a in data["alerts"]] == ["opened"]
    incidents = server.client.get("/api/v1/incidents").json()
    assert [i["service"] for i in incidents] == ["svc1"]


def test_alertmanager_zero_end_time_is_not_a_bad_value(serve_on: Factory) -> None:
    server = serve_on()
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Down", "service": "web"},
                "startsAt": "2026-11-23T03:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
            },
            {
                "status": "firing",
                "labels": {"alertname": "Bad\x00", "service": "web"},
                "startsAt": "2026-11-23T03:00:00Z",
            },
        ],
    }
    answer = server.post("/webhooks/alertmanager", body)
    assert answer.status_code == 422, answer.text
    assert "alerts[1].labels" in answer.json()["error"]
    assert [a["outcome"] for a in answer.json()["alerts"]] == ["opened"]


def test_a_delivery_over_the_alert_limit_is_refused_whole(serve_on: Factory) -> None:
    server = serve_on(alerts={"max_alerts_per_delivery": 5})
    answer = server.post("/webhooks/generic", {"alerts": [generic(n) for n in range(6)]})
    assert answer.status_code == 413, answer.text
    assert "at most 5 alerts" in answer.json()["error"]
    assert server.client.get("/api/v1/incidents").json() == []
    fine = server.post("/webhooks/generic", {"alerts": [generic(n) for n in range(5)]})
    assert fine.status_code == 200, fine.text


def test_an_alert_storm_opens_one_storm_incident_for_the_groups_beyond_the_limit(
    serve_on: Factory,
) -> None:
    server = serve_on(alerts={"storm_groups_per_minute": 3})
    alerts = [{"summary": f"down {n}", "service": f"shard{n}"} for n in range(10)]
    answer = server.post("/webhooks/generic", {"alerts": alerts})
    assert answer.status_code == 200, answer.text
    incidents = server.client.get("/api/v1/incidents").json()
    assert len(incidents) == 4, [i["title"] for i in incidents]
    storm = [i for i in incidents if i["service"] == "alert-storm"]
    assert len(storm) == 1
    shown = server.client.get(f"/api/v1/incidents/{storm[0]['id']}").json()
    assert len(shown["alerts"]) == 7
    assert "alert storm" in shown["title"].lower()
    # A later group in the same minute joins the storm too.
    later = server.post("/webhooks/generic", {"alerts": [{"summary": "down 11", "service": "s11"}]})
    assert later.json()["alerts"][0]["incident_id"] == storm[0]["id"]


# -- our own failures --------------------------------------------------------------------------


@pytest.fixture
def commander(tmp_path: Path, database_url: str) -> Iterator[Commander]:
    (tmp_path / "ic.yaml").write_text(json.dumps({"database_url": database_url}))
    commander = Commander.from_config(tmp_path / "ic.yaml")
    yield commander
    commander.close()


def signal(name: str = "Down", service: str = "web") -> AlertSignal:
    labels = {"alertname": name, "service": service, "severity": "critical"}
    return AlertSignal(
        source="generic",
        fingerprint=fingerprint_of(labels),
        status="firing",
        labels=labels,
        annotations={},
        summary=f"{name} on {service}",
        starts_at=utcnow() - timedelta(minutes=5),
    )


def _fail_opening_once(intake: AlertIntake, monkeypatch: pytest.MonkeyPatch) -> None:
    original = intake.opener._open_all
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the database went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(intake.opener, "_open_all", flaky)


def test_a_retry_after_a_failure_before_the_incident_opened_opens_it(
    commander: Commander, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = AlertIntake(commander.engine)
    _fail_opening_once(intake, monkeypatch)
    with pytest.raises(RuntimeError):
        intake.ingest([signal()], source="generic", delivery_key="d1")
    retried = intake.ingest([signal()], source="generic", delivery_key="d1")
    assert not retried.replayed
    assert retried.alerts[0]["outcome"] == "opened", retried.alerts
    assert retried.opened and retried.alerts[0]["incident_id"] == retried.opened[0]
    tuning = commander.settings.evidence_dir / "alert-tuning-feedback.json"
    assert not tuning.exists() or "Down" not in tuning.read_text()


def test_the_repair_pass_opens_incidents_for_alerts_left_without_one(
    commander: Commander, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = AlertIntake(commander.engine)
    _fail_opening_once(intake, monkeypatch)
    with pytest.raises(RuntimeError):
        intake.ingest([signal(), signal("Slow")], source="generic")
    with commander.store.session() as session:
        assert session.scalars(select(Alert.incident_id)).all() == [None, None]
    repaired = AlertIntake(commander.engine).repair()
    assert len(repaired) == 1
    with commander.store.session() as session:
        owners = session.scalars(select(Alert.incident_id)).all()
    assert owners == [repaired[0], repaired[0]]
    assert AlertIntake(commander.engine).repair() == []


def test_one_poisoned_delivery_in_a_group_commit_fails_alone(
    commander: Commander, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = AlertIntake(commander.engine)
    original = intake.rules.apply

    def poisoned(batch: Any, sig: AlertSignal, row: Any) -> Any:
        if sig.labels["alertname"] == "Poison":
            raise ValueError("cannot store this value")
        return original(batch, sig, row)

    monkeypatch.setattr(intake.rules, "apply", poisoned)
    jobs = [
        _Job([signal("Poison")], "generic", "k0"),
        _Job([signal("Good", "a")], "generic", "k1"),
        _Job([signal("Ok", "b")], "generic", "k2"),
    ]
    intake._write_or_fail(jobs)  # written together, as a group commit would
    assert isinstance(jobs[0].done.exception(), ValueError)
    assert [job.done.result().alerts[0]["outcome"] for job in jobs[1:]] == ["opened", "opened"]


def test_delivery_answers_are_pruned_after_the_retention_window(commander: Commander) -> None:
    intake = AlertIntake(commander.engine)
    intake.ingest([signal("Old")], source="generic", delivery_key="old")
    intake.ingest([signal("New")], source="generic", delivery_key="new")
    with commander.store.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.key == "old")
            .values(received_at=utcnow() - timedelta(hours=25))
        )
    assert intake.prune_deliveries() == 1
    with commander.store.session() as session:
        assert session.scalars(select(Delivery.key)).all() == ["new"]


def test_ic_alerts_ingest_takes_the_good_alerts_and_names_the_bad(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, f"sqlite:///{tmp_path / 'ic.db'}")
    ws.configure()
    alerts = tmp_path / "alerts.json"
    alerts.write_text(json.dumps({"alerts": [generic(1), generic(2, summary="bad\u0000summary")]}))
    result = run_ic("alerts", "ingest", str(alerts), "--no-run", "--json", cwd=tmp_path, env=ws.env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "alerts[1].summary" in result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert [a["outcome"] for a in data["alerts"]] == ["opened"]


def test_ic_serve_takes_up_alerts_left_without_an_incident_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace(tmp_path, f"sqlite:///{tmp_path / 'ic.db'}")
    ws.configure()
    commander = Commander.from_config(tmp_path / "ic.yaml")
    try:
        intake = AlertIntake(commander.engine)
        _fail_opening_once(intake, monkeypatch)
        with pytest.raises(RuntimeError):
            intake.ingest([signal("Down", "web")], source="generic")
    finally:
        commander.close()
    server = Server(tmp_path, ws.env, "--no-probes")
    try:
        incidents = server.wait_for("/api/v1/incidents", lambda rows: len(rows) == 1)
        shown = server.client.get(f"/api/v1/incidents/{incidents[0]['id']}").json()
        assert [a["alertname"] for a in shown["alerts"]] == ["Down"]
    finally:
        assert "Traceback" not in server.stop()
