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
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from incident_commander.alerts.opening import IncidentOpener
from incident_commander.alerts.rows import COUNT_WRITE_SQL, KnownAlerts, save
from incident_commander.alerts.rules import (
    AWAITING_INCIDENT,
    FALSE_POSITIVE,
    AlertRules,
    Batch,
    IngestResult,
    Lookups,
)
from incident_commander.alerts.signal import AlertSignal
from incident_commander.alerts.tuning import write_alert_tuning
from incident_commander.clock import utcnow
from incident_commander.errors import TransitionRejected
from incident_commander.protocol.steps import resolve
from incident_commander.store.models import Alert, Delivery

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["AlertIntake", "IngestResult", "Refresh"]

_ANSWERS = select(Delivery.key, Delivery.response).where(
    Delivery.key.in_(bindparam("keys", expanding=True))
)
_SAVE_ANSWERS = insert(Delivery.metadata.tables["deliveries"]).inline()  # no result to read
_ANSWERS_SQL = "SELECT key, response FROM deliveries WHERE key = ANY(%s)"
PRUNE_BATCH = 5_000
LOCK = "alert-intake"
"""Writers of alerts take turns on this lock, across threads, processes and replicas."""

Refresh = Callable[[set[str], bool], None]
"""Bring these incidents' evidence (and, when told, the alert-tuning file) up to date."""


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
    repair: bool = False


class AlertIntake:
    """The one way alerts enter the protocol, from webhooks, files and probes."""

    def __init__(
        self,
        kernel: Kernel,
        *,
        on_opened: Callable[[str], None] | None = None,
        refresh: Refresh | None = None,
    ) -> None:
        self.kernel = kernel
        self.settings = kernel.settings.alerts
        self.rules = AlertRules(kernel)
        self.opener = IncidentOpener(kernel)
        self.on_opened = on_opened or (lambda incident_id: None)
        self.refresh = refresh or self.refresh_now
        self.known = KnownAlerts()
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Job] = []

    def refresh_now(self, incidents: set[str], tuning: bool) -> None:
        """Re-render the incidents' evidence and the tuning file before returning."""
        for incident_id in sorted(incidents):
            self.kernel.sync(incident_id)
        if tuning:
            write_alert_tuning(self.kernel.store, self.kernel.settings.evidence_dir)

    def ingest(
        self, signals: list[AlertSignal], *, source: str, delivery_key: str | None = None
    ) -> IngestResult:
        """Record every alert; open, join, reopen or dismiss incidents; answer once per delivery.

        Deliveries that arrive while another is being written wait, then are written together
        in one transaction (group commit); each still gets its own answer.
        """
        return self._submit(_Job(signals, source, delivery_key))

    def repair(self) -> list[str]:
        """Open (or join) incidents for firing alerts an earlier failure left without one.

        Run at start-up and on a timer by ``ic serve``; returns the incidents the alerts went to.
        """
        with self.kernel.store.session() as session:
            rows = session.execute(
                select(
                    *(Alert.source, Alert.fingerprint, Alert.status, Alert.labels),
                    *(Alert.annotations, Alert.summary, Alert.starts_at),
                )
                .where(
                    Alert.incident_id.is_(None),
                    Alert.outcome == AWAITING_INCIDENT,
                    Alert.status == "firing",
                )
                .order_by(Alert.id)
                .limit(self.settings.max_alerts_per_delivery)
            ).all()
        if not rows:
            return []
        signals = [
            AlertSignal(
                source=row.source,
                fingerprint=row.fingerprint,
                status=row.status,
                labels=row.labels,
                annotations=row.annotations,
                summary=row.summary,
                starts_at=row.starts_at,
            )
            for row in rows
        ]
        result = self._submit(_Job(signals, "repair", None, repair=True))
        return sorted({entry["incident_id"] for entry in result.alerts if entry["incident_id"]})

    def prune_deliveries(self) -> int:
        """Forget delivery answers older than the retention window, a batch at a time.

        Returns how many were removed. Each batch is a short transaction of its own, so the
        intake is never held up for long.
        """
        cutoff = utcnow() - timedelta(hours=self.settings.delivery_retention_hours)
        removed = 0
        while True:
            with self.kernel.store.session() as session:
                keys = select(Delivery.key).where(Delivery.received_at < cutoff).limit(PRUNE_BATCH)
                result = session.execute(delete(Delivery).where(Delivery.key.in_(keys)))
                count = result.rowcount or 0  # type: ignore[attr-defined]
            removed += count
            if count < PRUNE_BATCH:
                return removed

    def _submit(self, job: _Job) -> IngestResult:
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
        """Write the deliveries together; if that fails, each alone, so one bad one fails alone."""
        try:
            self._write(jobs)
            return
        except BaseException as exc:
            self.known.forget()  # its rows may hold what was never committed
            if len(jobs) == 1 or not isinstance(exc, Exception):
                for waiting in jobs:
                    if not waiting.done.done():
                        waiting.done.set_exception(exc)
                return
        for job in jobs:
            if job.done.done():
                continue
            job.replay_of, job.newly_false = None, False
            try:
                self._write([job])
            except Exception as exc:  # this delivery is the poisoned one
                self.known.forget()
                job.done.set_exception(exc)

    def _write(self, jobs: list[_Job]) -> None:
        touched: set[str] = set()
        with self.kernel.store.exclusive(LOCK):
            with self.kernel.transaction(sync=False) as journal, journal.session.no_autoflush:
                count, stored = self._open_write(journal.session, jobs)
                fresh = self._sort_out(jobs, stored)  # retries are answered, not read again
                signals = [signal for job in fresh for signal in job.signals]
                known = self.known.load(journal.session, signals, count)
                batch = Batch(journal, known, Lookups(journal))
                self.rules.look_up_groups(batch, signals)
                for job in fresh:
                    job.result = batch.result = IngestResult(received=len(job.signals))
                    batch.repair = job.repair
                    for signal in job.signals:
                        row = batch.known.get((signal.source, signal.fingerprint))
                        was = row.outcome if row is not None else None
                        entry = self.rules.apply(batch, signal, row)
                        if entry["outcome"] in FALSE_POSITIVE and was != entry["outcome"]:
                            job.newly_false = True
                        job.result.alerts.append(entry)
                batch.attachments.write(journal)
                settled = not batch.pending and not batch.dismiss
                with self.kernel.store.writes_together(journal.session):
                    save(journal.session, batch.known.values(), batch.now)
                    if settled:
                        self._save_deliveries(journal.session, fresh)
            touched |= journal.touched
            if not settled:
                if batch.pending:
                    touched |= self.opener.open(batch.pending)
                for incident_id, reason in batch.dismiss.items():
                    try:
                        resolve.dismiss(
                            self.kernel, incident_id, reason=reason, dismissed_by="alert intake"
                        )
                    except TransitionRejected:
                        pass  # confirmed meanwhile: a person or policy has taken it on
                with self.kernel.store.session() as session:
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

    def _open_write(
        self, session: Session, jobs: list[_Job]
    ) -> tuple[int | None, dict[str, dict[str, Any]]]:
        """Take the writers' lock; return this write's count and the answers already given.

        On PostgreSQL the lock, the count and the answers cost one round trip together; the
        count is then ``None`` elsewhere (``KnownAlerts.load`` counts the write itself).
        """
        keys = sorted({job.key for job in jobs if job.key is not None})
        store = self.kernel.store
        read = store.lock_and_read(session, LOCK, [(COUNT_WRITE_SQL, []), (_ANSWERS_SQL, [keys])])
        if read is not None:
            counted, answers = read
            return counted[0][0], {key: response for key, response in answers}
        store.lock_transaction(session, LOCK)
        stored: dict[str, dict[str, Any]] = {}
        if keys:
            for key, response in session.connection().execute(_ANSWERS, {"keys": keys}):
                stored[key] = response
        return None, stored

    @staticmethod
    def _sort_out(jobs: list[_Job], stored: dict[str, dict[str, Any]]) -> list[_Job]:
        """The deliveries to write; retries of earlier ones get the answer given then."""
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
            session.connection().execute(_SAVE_ANSWERS, rows)
