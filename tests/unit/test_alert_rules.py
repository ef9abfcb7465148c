"""The alert rules on their own: dedup, grouping, maintenance, flapping, confirmation window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from incident_commander.alerts.rows import AlertRow
from incident_commander.alerts.rules import AlertRules, Batch
from incident_commander.alerts.signal import AlertSignal, fingerprint_of
from incident_commander.config import AlertSettings, MaintenanceWindow
from incident_commander.store.models import Incident

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


class Lookups:
    """Incidents answered from memory, as the write transaction would find them."""

    def __init__(self, *incidents: Incident) -> None:
        self.by_id = {inc.id: inc for inc in incidents}

    def open_incident(self, key: str) -> Incident | None:
        return next((i for i in self.by_id.values() if i.service == key), None)

    def incident(self, incident_id: str) -> Incident | None:
        return self.by_id.get(incident_id)


def rules(**settings: Any) -> AlertRules:
    kernel = SimpleNamespace(settings=SimpleNamespace(alerts=AlertSettings(**settings)))
    return AlertRules(kernel)  # type: ignore[arg-type]


def batch(*incidents: Incident) -> Batch:
    return Batch(journal=None, known={}, lookups=Lookups(*incidents), now=NOW)  # type: ignore[arg-type]


def alert(name: str = "Down", status: str = "firing", **labels: str) -> AlertSignal:
    labels = {"alertname": name, **labels}
    return AlertSignal(
        source="generic",
        fingerprint=fingerprint_of(labels),
        status=status,
        labels=labels,
        annotations={},
        summary=f"{name} summary",
        starts_at=NOW - timedelta(seconds=30),
    )


def known(signal: AlertSignal, *, incident: str | None, outcome: str = "opened") -> AlertRow:
    return AlertRow(
        source=signal.source,
        fingerprint=signal.fingerprint,
        status=signal.status,
        alertname=signal.alertname,
        group_key=signal.labels.get("service", signal.alertname),
        occurrences=1,
        outcome=outcome,
        id=7,
        incident_id=incident,
        starts_at=signal.starts_at,
    )


def incident(status: str = "triaged", service: str = "web") -> Incident:
    return Incident(id="INC-20261124-0001", service=service, status=status)


def test_a_first_alert_with_nothing_to_join_waits_for_an_incident_of_its_group() -> None:
    work = batch()
    entry = rules().apply(work, alert(service="web"), None)
    assert (entry["outcome"], entry["incident_id"]) == ("opened", None)
    assert [p.row.group_key for p in work.pending] == ["web"]


def test_a_first_alert_joins_the_open_incident_of_its_group() -> None:
    work = batch(incident(service="web"))
    entry = rules().apply(work, alert(service="web"), None)
    assert (entry["outcome"], entry["incident_id"]) == ("joined", "INC-20261124-0001")
    assert not work.pending


def test_the_group_falls_back_to_the_alert_name() -> None:
    work = batch()
    rules(group_by=["service", "cluster"]).apply(work, alert("DiskFull"), None)
    assert work.pending[0].row.group_key == "DiskFull"


def test_the_same_alert_again_is_a_duplicate() -> None:
    signal = alert(service="web")
    entry = rules().apply(batch(), signal, known(signal, incident="INC-1", outcome="joined"))
    assert (entry["outcome"], entry["reason"]) == ("duplicate", "repeat #2")


def test_an_alert_inside_a_maintenance_window_is_recorded_not_escalated() -> None:
    window = MaintenanceWindow(
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=1),
        reason="database upgrade",
        services=["web"],
    )
    work = batch()
    entry = rules(maintenance=[window]).apply(work, alert(service="web"), None)
    assert entry["outcome"] == "maintenance"
    assert entry["reason"] == "inside maintenance window (database upgrade)"
    assert not work.pending


def test_an_alert_that_keeps_flipping_is_flapping_and_its_unconfirmed_incident_dismissed() -> None:
    signal = alert(service="web", status="resolved")
    row = known(signal, incident="INC-20261124-0001", outcome="joined")
    row.status = "firing"
    row.flips = [(NOW - timedelta(seconds=s)).isoformat() for s in (60, 40, 20)]
    work = batch(incident(status="triaged"))
    entry = rules(flap_flips=4).apply(work, signal, row)
    assert entry["outcome"] == "flapping"
    assert "INC-20261124-0001" in work.dismiss


def test_resolved_inside_the_confirmation_window_is_a_false_positive() -> None:
    signal = alert(service="web", status="resolved")
    signal.ends_at = signal.starts_at + timedelta(seconds=20)
    row = known(signal, incident="INC-20261124-0001", outcome="joined")
    row.status = "firing"
    work = batch(incident(status="detected"))
    entry = rules(confirmation_window_seconds=60).apply(work, signal, row)
    assert entry["outcome"] == "resolved_in_window"
    assert work.dismiss["INC-20261124-0001"].startswith("alert Down resolved after 20 s")


def test_resolved_after_confirmation_is_cleared_not_dismissed() -> None:
    signal = alert(service="web", status="resolved")
    signal.ends_at = signal.starts_at + timedelta(seconds=20)
    row = known(signal, incident="INC-20261124-0001", outcome="joined")
    row.status = "firing"
    work = batch(incident(status="planning"))
    entry = rules(confirmation_window_seconds=60).apply(work, signal, row)
    assert entry["outcome"] == "cleared"
    assert not work.dismiss


def test_an_alert_left_without_its_incident_is_taken_up_not_called_a_duplicate() -> None:
    signal = alert(service="web")
    work = batch()
    entry = rules().apply(work, signal, known(signal, incident=None, outcome="opened"))
    assert entry["outcome"] == "opened"
    assert [p.row.fingerprint for p in work.pending] == [signal.fingerprint]
