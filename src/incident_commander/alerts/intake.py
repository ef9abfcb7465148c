"""Taking alerts in: deduplicate, group into incidents, spot false positives, record all.

Each delivery is written under one lock: its alerts are committed (and any incidents opened)
before the caller answers the sender, so a 2xx means the alerts are durable. Deliveries that
arrive while another is being written are written together (group commit). Evidence files of
the incidents alerts joined follow the store: at once by default, or by a background
refresher that a long-running server passes in, so an alert storm re-renders each incident
once per round instead of once per delivery.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from incident_commander.alerts.attachments import Attachments, signal_row
from incident_commander.alerts.rows import AlertRow, KnownAlerts, save
from incident_commander.alerts.signal import AlertSignal
from incident_commander.alerts.tuning import write_alert_tuning
from incident_commander.clock import isoformat, utcnow
from incident_commander.errors import TransitionRejected
from incident_commander.protocol.intake import Declaration, open_incident
from incident_commander.protocol.journal import Journal
from incident_commander.protocol.states import Status
from incident_commander.store.models import Alert, Delivery, Incident, Signal

if TYPE_CHECKING:
    from incident_commander.protocol.engine import Engine

__all__ = ["FALSE_POSITIVE", "AlertIntake", "IngestResult", "Refresh"]

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

_ANSWERS = select(Delivery.key, Delivery.response).where(
    Delivery.key.in_(bindparam("keys", expanding=True))
)

Refresh = Callable[[set[str], bool], None]
"""Bring these incidents' evidence (and, when told, the alert-tuning file) up to date."""


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
    """A firing alert with no incident to join: one incident per group opens for these."""

    row: AlertRow
    signal: AlertSignal
    entry: dict[str, Any]
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
    known: dict[tuple[str, str], AlertRow]
    now: datetime = field(default_factory=utcnow)
    result: IngestResult = field(default_factory=IngestResult)
    pending: list[_Pending] = field(default_factory=list)
    dismiss: dict[str, str] = field(default_factory=dict)
    open_by_group: dict[str, Incident | None] = field(default_factory=dict)
    attachments: Attachments = field(default_factory=Attachments)


class AlertIntake:
    """The one way alerts enter the engine, from webhooks, files and probes."""

    def __init__(
        self,
        engine: Engine,
        *,
        on_opened: Callable[[str], None] | None = None,
        refresh: Refresh | None = None,
    ) -> None:
        self.engine = engine
        self.settings = engine.settings.alerts
        self.on_opened = on_opened or (lambda incident_id: None)
        self.refresh = refresh or self.refresh_now
        self.known = KnownAlerts()
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Job] = []

    def refresh_now(self, incidents: set[str], tuning: bool) -> None:
        """Re-render the incidents' evidence and the tuning file before returning."""
        for incident_id in sorted(incidents):
            self.engine.sync(incident_id)
        if tuning:
            write_alert_tuning(self.engine.store, self.engine.settings.evidence_dir)

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
            self.known.forget()  # its rows may hold what was never committed
            for waiting in jobs:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)

    def _write(self, jobs: list[_Job]) -> None:
        touched: set[str] = set()
        with self.engine.store.exclusive("alert-intake"):
            with self.engine.transaction(sync=False) as journal, journal.session.no_autoflush:
                fresh = self._sort_out(journal, jobs)  # retries are answered, not read again
                signals = [signal for job in fresh for signal in job.signals]
                batch = _Batch(journal, self.known.load(journal.session, signals))
                for job in fresh:
                    job.result = batch.result = IngestResult(received=len(job.signals))
                    for signal in job.signals:
                        row = batch.known.get((signal.source, signal.fingerprint))
                        was = row.outcome if row is not None else None
                        entry = self._apply(batch, signal, row)
                        if entry["outcome"] in FALSE_POSITIVE and was != entry["outcome"]:
                            job.newly_false = True
                        job.result.alerts.append(entry)
                save(journal.session, batch.known.values(), batch.now)
                batch.attachments.write(journal)
                settled = not batch.pending and not batch.dismiss
                if settled:
                    self._save_deliveries(journal.session, fresh)
            touched |= journal.touched
            if not settled:
                touched |= self._open(batch.pending)
                for incident_id, reason in batch.dismiss.items():
                    try:
                        self.engine.dismiss(incident_id, reason=reason, dismissed_by="alert intake")
                    except TransitionRejected:
                        pass  # confirmed meanwhile: a person or policy has taken it on
                with self.engine.store.session() as session:
                    self._save_deliveries(session, fresh)
        for job in jobs:
            if job.replay_of is not None:
                original = job.replay_of.result
                job.result = IngestResult(original.received, original.alerts, original.opened, True)
        tuning = any(job.newly_false for job in fresh)
        if touched or tuning:
            self.refresh(touched, tuning)
        for job in fresh:
            for incident_id in job.result.opened:
                self.on_opened(incident_id)
        for job in jobs:
            job.done.set_result(job.result)

    def _sort_out(self, journal: Journal, jobs: list[_Job]) -> list[_Job]:
        """The deliveries to write; retries of earlier ones get the answer given then."""
        keys = {job.key for job in jobs if job.key is not None}
        stored: dict[str, dict[str, Any]] = {}
        if keys:
            answers = journal.session.connection().execute(_ANSWERS, {"keys": list(keys)})
            for key, response in answers:
                stored[key] = response
        fresh: list[_Job] = []
        by_key: dict[str, _Job] = {}
        for job in jobs:
            if job.key is not None and job.key in by_key:
                job.replay_of = by_key[job.key]
                continue
            answer = stored.get(job.key) if job.key is not None else None
            if answer is not None:
                job.result = IngestResult(
                    received=answer.get("received", 0),
                    alerts=answer.get("alerts", []),
                    opened=answer.get("incidents_opened", []),
                    replayed=True,
                )
                continue
            if job.key is not None:
                by_key[job.key] = job
            fresh.append(job)
        return fresh

    @staticmethod
    def _save_deliveries(session: Session, jobs: list[_Job]) -> None:
        rows = [
            {
                "key": job.key,
                "source": job.source,
                "received_at": utcnow(),
                "response": job.result.as_dict(),
            }
            for job in jobs
            if job.key is not None
        ]
        if rows:
            session.connection().execute(insert(Delivery.metadata.tables["deliveries"]), rows)

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

    def _maintenance(self, group_key: str, now: datetime) -> str | None:
        for window in self.settings.maintenance:
            if window.services and group_key not in window.services:
                continue
            if window.starts_at <= now <= window.ends_at:
                return f"inside maintenance window ({window.reason})"
        return None

    def _apply(self, batch: _Batch, signal: AlertSignal, row: AlertRow | None) -> dict[str, Any]:
        now = batch.now
        if row is None:
            row = AlertRow(
                source=signal.source,
                fingerprint=signal.fingerprint,
                status=signal.status,
                alertname=signal.alertname[:200],
                group_key=self.group_key(signal),
                starts_at=signal.starts_at,
                ends_at=signal.ends_at,
                first_seen=now,
                last_seen=now,
                occurrences=1,
                outcome="recorded",
                first=signal,
            )
            batch.known[row.key] = row
            self._first_sight(batch, row, signal, now)
        else:
            self._repeat(batch, row, signal, now)
        entry = {
            "fingerprint": row.fingerprint,
            "status": row.status,
            "outcome": row.outcome,
            "incident_id": row.incident_id,
            "reason": row.reason,
        }
        if row.outcome == "opened":  # no incident to join: one opens after the commit
            batch.pending.append(_Pending(row, signal, entry, batch.result))
        return entry

    def _first_sight(
        self, batch: _Batch, row: AlertRow, signal: AlertSignal, now: datetime
    ) -> None:
        if signal.status == "resolved":
            row.outcome, row.reason = "cleared", "resolved before it was seen firing"
            row.resolved_at = now
            return
        maintenance = self._maintenance(row.group_key, now)
        if maintenance:
            row.outcome, row.reason = "maintenance", maintenance
            return
        inc = self._open_incident_for(batch, row.group_key)
        if inc is not None:
            row.outcome, row.incident_id = "joined", inc.id
            batch.attachments.add(inc, signal, "alert joined")
            return
        row.outcome = "opened"

    def _repeat(self, batch: _Batch, row: AlertRow, signal: AlertSignal, now: datetime) -> None:
        journal, dismiss = batch.journal, batch.dismiss
        row.last_seen = now
        row.occurrences += 1
        row.repeats += 1
        if signal.status == row.status:
            row.outcome, row.reason = "duplicate", f"repeat #{row.occurrences}"
            return
        row.changed = True
        window = timedelta(seconds=self.settings.flap_window_seconds)
        flips = [f for f in row.flips if datetime.fromisoformat(f) >= now - window]
        row.flips = [*flips, isoformat(now)]
        row.status = signal.status
        inc = (
            journal.session.get(Incident, row.incident_id, with_for_update=True)
            if row.incident_id
            else None
        )
        unconfirmed = inc is not None and Status(inc.status) in UNCONFIRMED
        assert row.starts_at is not None  # read by KnownAlerts.load for every status change
        if len(row.flips) >= self.settings.flap_flips:
            row.outcome = "flapping"
            row.reason = (
                f"{len(row.flips)} state changes within {self.settings.flap_window_seconds:g} s"
            )
            if unconfirmed:
                assert inc is not None
                dismiss[inc.id] = f"alert {row.alertname} is flapping: {row.reason}"
            return
        if signal.status == "resolved":
            row.resolved_at = now
            ends = signal.ends_at
            row.ends_at = ends if ends is not None and ends >= row.starts_at else now
            lived = (row.ends_at - row.starts_at).total_seconds()
            if lived <= self.settings.confirmation_window_seconds and unconfirmed:
                row.outcome = "resolved_in_window"
                row.reason = (
                    f"resolved after {lived:.0f} s, inside its "
                    f"{self.settings.confirmation_window_seconds:g} s confirmation window"
                )
                assert inc is not None
                dismiss[inc.id] = f"alert {row.alertname} {row.reason}"
            else:
                row.outcome, row.reason = "cleared", None
            if inc is not None:
                batch.attachments.add(inc, signal, "alert cleared")
            return
        row.resolved_at = None
        row.ends_at = None
        row.reason = None
        if inc is not None and Status(inc.status) in OPEN_FOR_JOINING:
            row.outcome = "joined"
            batch.attachments.add(inc, signal, "alert firing again")
        elif inc is not None and Status(inc.status) in (Status.RESOLVED, Status.MONITORING):
            row.outcome = "reopened"
            journal.session.add(Signal(**signal_row(inc.id, signal)))
            journal.event(inc, "signal.received", f"recurrence: {signal.alertname} (firing)")
            self.engine.reopen(journal, inc, f"alert {row.alertname} fired again")
        else:
            row.outcome = "opened"

    def _open(self, pending: list[_Pending]) -> set[str]:
        """Open one incident per group, all in one transaction; the group's other alerts join it.

        Returns the incidents opened, whose evidence is behind the store.
        """
        by_group: dict[str, list[_Pending]] = {}
        for item in pending:
            by_group.setdefault(item.row.group_key, []).append(item)
        declarations = {
            group_key: self._declaration(items[0].signal, group_key).checked()
            for group_key, items in by_group.items()
        }
        for _attempt in range(5):
            try:
                opened = self._open_all(by_group, declarations)
                break
            except IntegrityError:
                continue  # another process took the same incident id: count again
        else:
            raise TransitionRejected("could not allocate an incident id; try again")
        for group_key, items in by_group.items():
            incident_id = opened[group_key]
            items[0].result.opened.append(incident_id)
            for item in items:
                outcome = "opened" if item is items[0] else "joined"
                item.row.incident_id, item.row.outcome = incident_id, outcome
                item.entry["incident_id"], item.entry["outcome"] = incident_id, outcome
        return set(opened.values())

    def _open_all(
        self, by_group: dict[str, list[_Pending]], declarations: dict[str, Declaration]
    ) -> dict[str, str]:
        with self.engine.transaction(sync=False) as journal:
            opened: dict[str, str] = {}
            joined = Attachments()
            for group_key, items in by_group.items():
                inc = open_incident(self.engine, journal, declarations[group_key])
                opened[group_key] = inc.id
                linked: dict[tuple[str, str], list[str]] = {}
                for item in items:
                    outcome = "opened" if item is items[0] else "joined"
                    linked.setdefault((item.row.source, outcome), []).append(item.row.fingerprint)
                    if item is not items[0]:
                        joined.add(inc, item.signal, "alert joined")
                for (source, outcome), fingerprints in linked.items():
                    journal.session.execute(
                        update(Alert)
                        .where(Alert.source == source, Alert.fingerprint.in_(fingerprints))
                        .values(incident_id=inc.id, outcome=outcome)
                    )
            joined.write(journal)
        return opened

    def _declaration(self, first: AlertSignal, group_key: str) -> Declaration:
        """The incident an alert opens, with the severity answers its labels propose."""
        details: dict[str, Any] = {
            "labels": first.labels,
            "annotations": first.annotations,
            "fingerprint": first.fingerprint,
            "starts_at": isoformat(first.starts_at),
        }
        proposal = self.proposed_answers(first)
        if proposal:
            details["proposed_answers"] = proposal
        return Declaration(
            title=f"{first.alertname}: {first.summary}"[:500],
            service=group_key,
            source="health-probe" if first.source == "health-probe" else "monitoring-alert",
            detected_by=first.source,
            symptoms=[first.summary[:1000]],
            first_signal_at=min(first.starts_at, utcnow()),
            details=details,
        )
