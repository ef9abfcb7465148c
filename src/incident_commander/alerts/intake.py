"""Taking alerts in: deduplicate, group into incidents, spot false positives, record all.

Each delivery is handled under one lock: its alerts are committed (and any incidents opened)
before the caller answers the sender, so a 2xx means the alerts are durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from incident_commander.alerts.signal import AlertSignal
from incident_commander.alerts.tuning import write_alert_tuning
from incident_commander.clock import isoformat, utcnow
from incident_commander.errors import TransitionRejected
from incident_commander.protocol.journal import Journal
from incident_commander.protocol.states import Status
from incident_commander.store.models import Alert, Delivery, Incident, Signal

if TYPE_CHECKING:
    from incident_commander.protocol.engine import Engine

__all__ = ["FALSE_POSITIVE", "AlertIntake", "IngestResult"]

FALSE_POSITIVE = frozenset({"duplicate", "flapping", "resolved_in_window", "maintenance"})
OPEN_FOR_JOINING = frozenset(
    {
        Status.DETECTED,
        Status.TRIAGED,
        Status.PLANNING,
        Status.AWAITING_APPROVAL,
        Status.EXECUTING,
        Status.VALIDATING,
        Status.HALTED,
        Status.REOPENED,
    }
)
UNCONFIRMED = frozenset({Status.DETECTED, Status.TRIAGED, Status.REOPENED})


@dataclass
class IngestResult:
    """What became of each alert of a delivery."""

    received: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "alerts": self.alerts,
            "incidents_opened": self.opened,
            "replayed": self.replayed,
        }


@dataclass
class _Pending:
    alert: Alert
    signal: AlertSignal
    group_key: str
    result: IngestResult


@dataclass
class _Job:
    """One delivery waiting for the writer; several may share one transaction."""

    signals: list[AlertSignal]
    source: str
    key: str | None
    done: Future[IngestResult] = field(default_factory=Future)
    result: IngestResult = field(default_factory=IngestResult)
    newly_false: bool = False
    replay_of: _Job | None = None


@dataclass
class _Batch:
    """What the deliveries of one transaction work with."""

    journal: Journal
    known: dict[tuple[str, str], Alert]
    result: IngestResult = field(default_factory=IngestResult)
    pending: list[_Pending] = field(default_factory=list)
    dismiss: dict[str, str] = field(default_factory=dict)
    open_by_group: dict[str, Incident | None] = field(default_factory=dict)


class AlertIntake:
    """The one way alerts enter the engine, from webhooks, files and probes."""

    def __init__(self, engine: Engine, *, on_opened: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        self.settings = engine.settings.alerts
        self.on_opened = on_opened or (lambda incident_id: None)
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Job] = []

    def group_key(self, signal: AlertSignal) -> str:
        """The value of the first grouping label present, else the alert name."""
        for label in self.settings.group_by:
            if signal.labels.get(label):
                return signal.labels[label][:128]
        return signal.alertname[:128]

    def proposed_answers(self, signal: AlertSignal) -> dict[str, Any] | None:
        """Severity answers from the first assess rule whose labels all match."""
        for rule in self.settings.assess:
            if all(signal.labels.get(k) == v for k, v in rule.match.items()):
                answers = rule.answers.model_copy(
                    update={"impacted_components": [self.group_key(signal)]}
                )
                matched = ", ".join(f"{k}={v}" for k, v in rule.match.items())
                return {"answers": answers.model_dump(mode="json"), "by": f"alert rule {matched}"}
        return None

    def ingest(
        self, signals: list[AlertSignal], *, source: str, delivery_key: str | None = None
    ) -> IngestResult:
        """Record every alert; open, join, reopen or dismiss incidents; answer once per delivery.

        Deliveries that arrive while another is being written wait, then are written together
        in one transaction (group commit); each still gets its own answer.
        """
        job = _Job(signals, source, delivery_key)
        with self._queue_lock:
            self._queue.append(job)
        with self._lock:
            # Whoever holds the writer lock writes everything queued so far; a delivery
            # written by an earlier holder only collects its answer.
            if not job.done.done():
                with self._queue_lock:
                    jobs, self._queue = self._queue, []
                self._write_or_fail(jobs)
        return job.done.result()

    def _write_or_fail(self, jobs: list[_Job]) -> None:
        try:
            self._write(jobs)
        except BaseException as exc:  # every waiting delivery learns of the failure
            for waiting in jobs:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)

    def _write(self, jobs: list[_Job]) -> None:
        fresh: list[_Job] = []
        with self.engine.store.exclusive("alert-intake"):
            with self.engine.transaction() as journal, journal.session.no_autoflush:
                batch = _Batch(journal, self._known(journal, [s for j in jobs for s in j.signals]))
                by_key: dict[str, _Job] = {}
                for job in jobs:
                    if job.key is not None and job.key in by_key:
                        job.replay_of = by_key[job.key]
                        continue
                    stored = journal.session.get(Delivery, job.key) if job.key else None
                    if stored is not None:
                        job.result = IngestResult(
                            received=stored.response.get("received", 0),
                            alerts=stored.response.get("alerts", []),
                            opened=stored.response.get("incidents_opened", []),
                            replayed=True,
                        )
                        continue
                    if job.key is not None:
                        by_key[job.key] = job
                    fresh.append(job)
                    job.result = batch.result = IngestResult(received=len(job.signals))
                    for signal in job.signals:
                        alert = batch.known.get((signal.source, signal.fingerprint))
                        was = alert.outcome if alert is not None else None
                        entry = self._apply(batch, signal, alert)
                        if entry["outcome"] in FALSE_POSITIVE and was != entry["outcome"]:
                            job.newly_false = True
                        job.result.alerts.append(entry)
                settled = not batch.pending and not batch.dismiss
                if settled:
                    journal.session.add_all(self._deliveries(fresh))
            if not settled:
                self._open(batch.pending)
                for incident_id, reason in batch.dismiss.items():
                    try:
                        self.engine.dismiss(incident_id, reason=reason, dismissed_by="alert intake")
                    except TransitionRejected:
                        pass  # confirmed meanwhile: a person or policy has taken it on
                with self.engine.store.session() as session:
                    session.add_all(self._deliveries(fresh))
        for job in jobs:
            if job.replay_of is not None:
                original = job.replay_of.result
                job.result = IngestResult(original.received, original.alerts, original.opened, True)
        if any(job.newly_false for job in fresh):
            write_alert_tuning(self.engine.store, self.engine.settings.evidence_dir)
        for job in fresh:
            for incident_id in job.result.opened:
                self.on_opened(incident_id)
        for job in jobs:
            job.done.set_result(job.result)

    @staticmethod
    def _deliveries(jobs: list[_Job]) -> list[Delivery]:
        return [
            Delivery(
                key=job.key, source=job.source, received_at=utcnow(), response=job.result.as_dict()
            )
            for job in jobs
            if job.key is not None
        ]

    # -- one alert -----------------------------------------------------------------------------

    def _open_incident_for(self, batch: _Batch, group_key: str) -> Incident | None:
        if group_key not in batch.open_by_group:
            batch.open_by_group[group_key] = self._query_open_incident(batch.journal, group_key)
        return batch.open_by_group[group_key]

    def _query_open_incident(self, journal: Journal, group_key: str) -> Incident | None:
        # Locked: the driver may be appending to the same incident's timeline meanwhile.
        return journal.session.scalars(
            select(Incident)
            .where(
                Incident.service == group_key,
                Incident.status.in_([s.value for s in OPEN_FOR_JOINING]),
            )
            .order_by(Incident.detected_at.desc())
            .limit(1)
            .with_for_update()
        ).first()

    def _maintenance(self, signal: AlertSignal, group_key: str, now: datetime) -> str | None:
        for window in self.settings.maintenance:
            if window.services and group_key not in window.services:
                continue
            if window.starts_at <= now <= window.ends_at:
                return f"inside maintenance window ({window.reason})"
        return None

    def _attach(self, journal: Journal, inc: Incident, signal: AlertSignal, note: str) -> None:
        journal.session.add(
            Signal(
                incident_id=inc.id,
                at=utcnow(),
                source=signal.source,
                detected_by=signal.source,
                summary=signal.summary[:10_000],
                details={
                    "labels": signal.labels,
                    "annotations": signal.annotations,
                    "fingerprint": signal.fingerprint,
                    "status": signal.status,
                },
            )
        )
        journal.event(inc, "signal.received", f"{note}: {signal.alertname} ({signal.status})")

    def _known(self, journal: Journal, signals: list[AlertSignal]) -> dict[tuple[str, str], Alert]:
        """The alerts of this delivery already on record, loaded in one query per source."""
        known: dict[tuple[str, str], Alert] = {}
        by_source: dict[str, set[str]] = {}
        for signal in signals:
            by_source.setdefault(signal.source, set()).add(signal.fingerprint)
        for source, fingerprints in by_source.items():
            rows = journal.session.scalars(
                select(Alert).where(Alert.source == source, Alert.fingerprint.in_(fingerprints))
            )
            known.update({(row.source, row.fingerprint): row for row in rows})
        return known

    def _apply(self, batch: _Batch, signal: AlertSignal, alert: Alert | None) -> dict[str, Any]:
        now = utcnow()
        group_key = self.group_key(signal)
        if alert is None:
            alert = Alert(
                source=signal.source,
                fingerprint=signal.fingerprint,
                status=signal.status,
                alertname=signal.alertname[:200],
                group_key=group_key,
                summary=signal.summary[:10_000],
                labels=signal.labels,
                annotations=signal.annotations,
                starts_at=signal.starts_at,
                ends_at=signal.ends_at,
                first_seen=now,
                last_seen=now,
                occurrences=1,
                flips=[],
                outcome="recorded",
            )
            batch.journal.session.add(alert)
            batch.known[(alert.source, alert.fingerprint)] = alert
            self._first_sight(batch, alert, signal, group_key, now)
        else:
            self._repeat(batch, alert, signal, now)
        return {
            "fingerprint": alert.fingerprint,
            "status": alert.status,
            "outcome": alert.outcome,
            "incident_id": alert.incident_id,
            "reason": alert.reason,
        }

    def _first_sight(
        self, batch: _Batch, alert: Alert, signal: AlertSignal, group_key: str, now: datetime
    ) -> None:
        if signal.status == "resolved":
            alert.outcome, alert.reason = "cleared", "resolved before it was seen firing"
            alert.resolved_at = now
            return
        maintenance = self._maintenance(signal, group_key, now)
        if maintenance:
            alert.outcome, alert.reason = "maintenance", maintenance
            return
        inc = self._open_incident_for(batch, group_key)
        if inc is not None:
            alert.outcome, alert.incident_id = "joined", inc.id
            self._attach(batch.journal, inc, signal, "alert joined")
            return
        alert.outcome = "opened"
        batch.pending.append(_Pending(alert, signal, group_key, batch.result))

    def _repeat(self, batch: _Batch, alert: Alert, signal: AlertSignal, now: datetime) -> None:
        journal, dismiss = batch.journal, batch.dismiss
        alert.last_seen = now
        alert.occurrences += 1
        if signal.status == alert.status:
            alert.outcome, alert.reason = "duplicate", f"repeat #{alert.occurrences}"
            return
        window = timedelta(seconds=self.settings.flap_window_seconds)
        flips = [f for f in alert.flips if datetime.fromisoformat(f) >= now - window]
        alert.flips = [*flips, isoformat(now)]
        alert.status = signal.status
        inc = (
            journal.session.get(Incident, alert.incident_id, with_for_update=True)
            if alert.incident_id
            else None
        )
        unconfirmed = inc is not None and Status(inc.status) in UNCONFIRMED
        if len(alert.flips) >= self.settings.flap_flips:
            alert.outcome = "flapping"
            alert.reason = (
                f"{len(alert.flips)} state changes within {self.settings.flap_window_seconds:g} s"
            )
            if unconfirmed:
                assert inc is not None
                dismiss[inc.id] = f"alert {alert.alertname} is flapping: {alert.reason}"
            return
        if signal.status == "resolved":
            alert.resolved_at = now
            ends = signal.ends_at
            alert.ends_at = ends if ends is not None and ends >= alert.starts_at else now
            lived = (alert.ends_at - alert.starts_at).total_seconds()
            if lived <= self.settings.confirmation_window_seconds and unconfirmed:
                alert.outcome = "resolved_in_window"
                alert.reason = (
                    f"resolved after {lived:.0f} s, inside its "
                    f"{self.settings.confirmation_window_seconds:g} s confirmation window"
                )
                assert inc is not None
                dismiss[inc.id] = f"alert {alert.alertname} {alert.reason}"
            else:
                alert.outcome, alert.reason = "cleared", None
            if inc is not None:
                self._attach(journal, inc, signal, "alert cleared")
            return
        alert.resolved_at = None
        alert.ends_at = None
        if inc is not None and Status(inc.status) in OPEN_FOR_JOINING:
            alert.outcome = "joined"
            self._attach(journal, inc, signal, "alert firing again")
        elif inc is not None and Status(inc.status) in (Status.RESOLVED, Status.MONITORING):
            alert.outcome = "reopened"
            self._attach(journal, inc, signal, "recurrence")
            self.engine.reopen(journal, inc, f"alert {alert.alertname} fired again")
        else:
            alert.outcome = "opened"
            batch.pending.append(_Pending(alert, signal, alert.group_key, batch.result))

    def _open(self, pending: list[_Pending]) -> None:
        """Declare one incident per group; the group's other new alerts join it."""
        by_group: dict[str, list[_Pending]] = {}
        for item in pending:
            by_group.setdefault(item.group_key, []).append(item)
        for group_key, items in by_group.items():
            first = items[0].signal
            details: dict[str, Any] = {
                "labels": first.labels,
                "annotations": first.annotations,
                "fingerprint": first.fingerprint,
                "starts_at": isoformat(first.starts_at),
            }
            proposal = self.proposed_answers(first)
            if proposal:
                details["proposed_answers"] = proposal
            incident_id = self.engine.declare(
                title=f"{first.alertname}: {first.summary}"[:500],
                service=group_key,
                source="health-probe" if first.source == "health-probe" else "monitoring-alert",
                detected_by=first.source,
                symptoms=[first.summary[:1000]],
                first_signal_at=min(first.starts_at, utcnow()),
                details=details,
            )
            items[0].result.opened.append(incident_id)
            with self.engine.transaction() as journal:
                inc = self.engine.load(journal.session, incident_id)
                for item in items:
                    alert = journal.session.get(Alert, item.alert.id)
                    assert alert is not None
                    alert.incident_id = incident_id
                    if item is not items[0]:
                        alert.outcome = "joined"
                        self._attach(journal, inc, item.signal, "alert joined")
            for item in items:
                for entry in item.result.alerts:
                    if entry["fingerprint"] == item.signal.fingerprint:
                        entry["incident_id"] = incident_id
