"""What one alert means for the incidents: join, open, clear, reopen, or a false positive.

The rules run inside the intake's write transaction, alert by alert, on the rows of
``alerts.rows``. They decide; the intake writes what they decided, and incidents that must open
are opened afterwards by ``alerts.opening``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from incident_commander.alerts.attachments import Attachments, signal_row
from incident_commander.alerts.rows import AlertRow
from incident_commander.alerts.signal import AlertSignal
from incident_commander.clock import isoformat, utcnow
from incident_commander.config import AlertSettings
from incident_commander.protocol.journal import Journal
from incident_commander.protocol.states import Status
from incident_commander.store.models import Incident, Signal

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = [
    "FALSE_POSITIVE",
    "OPEN_FOR_JOINING",
    "AlertRules",
    "Batch",
    "IngestResult",
    "Lookups",
    "Pending",
    "group_key",
    "open_incidents_of",
]

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
AWAITING_INCIDENT = "opened"
"""An alert row's outcome while its incident is being opened (and after a failure, until then)."""


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
class Pending:
    """A firing alert with no incident to join: one incident per group opens for these."""

    row: AlertRow
    signal: AlertSignal
    entry: dict[str, Any]
    result: IngestResult


class Lookups:
    """Where the rules learn of incidents: the write transaction's locked rows.

    The rules ask only through this, so a unit test can answer from memory instead.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def open_incident(self, key: str) -> Incident | None:
        """The newest incident of group ``key`` that alerts may still join."""
        return open_incident_of(self.journal, key)

    def open_incidents(self, keys: list[str]) -> dict[str, Incident]:
        """``open_incident`` for several groups in one query; groups with none are left out."""
        return open_incidents_of(self.journal, keys)

    def incident(self, incident_id: str) -> Incident | None:
        """An incident by id, locked for the write."""
        return self.journal.session.get(Incident, incident_id, with_for_update=True)


@dataclass
class Batch:
    """What the deliveries of one transaction work with."""

    journal: Journal
    known: dict[tuple[str, str], AlertRow]
    lookups: Lookups
    now: datetime = field(default_factory=utcnow)
    result: IngestResult = field(default_factory=IngestResult)
    pending: list[Pending] = field(default_factory=list)
    dismiss: dict[str, str] = field(default_factory=dict)
    open_by_group: dict[str, Incident | None] = field(default_factory=dict)
    attachments: Attachments = field(default_factory=Attachments)
    repair: bool = False  # taking up alerts left without an incident: not a new sighting


def group_key(settings: AlertSettings, signal: AlertSignal) -> str:
    """The value of the first grouping label present, else the alert name."""
    for label in settings.group_by:
        if signal.labels.get(label):
            return signal.labels[label][:128]
    return signal.alertname[:128]


def open_incident_of(journal: Journal, key: str) -> Incident | None:
    """The newest incident of a group that alerts may still join (locked for the write)."""
    # Locked: the driver may be appending to the same incident's timeline meanwhile.
    return journal.session.scalars(
        select(Incident)
        .where(
            Incident.service == key,
            Incident.status.in_([s.value for s in OPEN_FOR_JOINING]),
        )
        .order_by(Incident.detected_at.desc())
        .limit(1)
        .with_for_update()
    ).first()


def open_incidents_of(journal: Journal, keys: list[str]) -> dict[str, Incident]:
    """``open_incident_of`` for several groups with one query (and one round trip).

    Every incident of these groups that alerts may join is locked; each group gets its newest.
    """
    if not keys:
        return {}
    found: dict[str, Incident] = {}
    for inc in journal.session.scalars(
        select(Incident)
        .where(
            Incident.service.in_(sorted(set(keys))),
            Incident.status.in_([s.value for s in OPEN_FOR_JOINING]),
        )
        .order_by(Incident.detected_at.desc())
        .with_for_update()
    ):
        found.setdefault(inc.service, inc)
    return found


class AlertRules:
    """Applies one alert to its row and the incidents, inside the intake's transaction."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.settings = kernel.settings.alerts

    def look_up_groups(self, batch: Batch, signals: list[AlertSignal]) -> None:
        """Find the open incidents of every group these signals may join, with one query.

        Only alerts seen firing for the first time (or still awaiting their incident) look for
        an incident to join; ``apply`` then finds their groups already looked up.
        """
        keys: set[str] = set()
        for signal in signals:
            row = batch.known.get((signal.source, signal.fingerprint))
            if signal.status != "firing" or (row is not None and row.outcome != AWAITING_INCIDENT):
                continue
            key = row.group_key if row is not None else group_key(self.settings, signal)
            if key not in batch.open_by_group and not self._maintenance(key, batch.now):
                keys.add(key)
        if not keys:
            return
        found = batch.lookups.open_incidents(sorted(keys))
        for key in keys:
            batch.open_by_group[key] = found.get(key)

    def apply(self, batch: Batch, signal: AlertSignal, row: AlertRow | None) -> dict[str, Any]:
        """Decide what ``signal`` means; return the delivery's answer for it."""
        now = batch.now
        if row is None:
            row = AlertRow(
                source=signal.source,
                fingerprint=signal.fingerprint,
                status=signal.status,
                alertname=signal.alertname[:200],
                group_key=group_key(self.settings, signal),
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
        elif row.id is not None and row.incident_id is None and row.outcome == AWAITING_INCIDENT:
            self._awaiting(batch, row, signal, now)
        else:
            self._repeat(batch, row, signal, now)
        entry = {
            "fingerprint": row.fingerprint,
            "status": row.status,
            "outcome": row.outcome,
            "incident_id": row.incident_id,
            "reason": row.reason,
        }
        if row.outcome == AWAITING_INCIDENT and row.incident_id is None:
            # No incident to join: one opens after the commit.
            batch.pending.append(Pending(row, signal, entry, batch.result))
        return entry

    def _maintenance(self, key: str, now: datetime) -> str | None:
        for window in self.settings.maintenance:
            if window.services and key not in window.services:
                continue
            if window.starts_at <= now <= window.ends_at:
                return f"inside maintenance window ({window.reason})"
        return None

    def _incident_for(self, batch: Batch, key: str) -> Incident | None:
        if key not in batch.open_by_group:
            batch.open_by_group[key] = batch.lookups.open_incident(key)
        return batch.open_by_group[key]

    def _first_sight(self, batch: Batch, row: AlertRow, signal: AlertSignal, now: datetime) -> None:
        if signal.status == "resolved":
            row.outcome, row.reason = "cleared", "resolved before it was seen firing"
            row.resolved_at = now
            return
        maintenance = self._maintenance(row.group_key, now)
        if maintenance:
            row.outcome, row.reason = "maintenance", maintenance
            return
        inc = self._incident_for(batch, row.group_key)
        if inc is not None:
            row.outcome, row.incident_id = "joined", inc.id
            batch.attachments.add(inc, signal, "alert joined")
            return
        row.outcome = AWAITING_INCIDENT

    def _awaiting(self, batch: Batch, row: AlertRow, signal: AlertSignal, now: datetime) -> None:
        """An alert an earlier failure left without its incident: take it up as if first seen.

        Our own failure never makes a sender's retry a duplicate or a false positive.
        """
        row.changed = True  # written whole, so the row keeps awaiting if this write fails too
        row.last_seen = now
        if not batch.repair:
            row.occurrences += 1
        if signal.status == "resolved":
            row.status, row.outcome = "resolved", "cleared"
            row.reason = "resolved before its incident opened"
            row.resolved_at = now
            row.ends_at = signal.ends_at or now
            return
        row.status, row.reason = signal.status, None
        self._first_sight(batch, row, signal, now)

    def _repeat(self, batch: Batch, row: AlertRow, signal: AlertSignal, now: datetime) -> None:
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
        inc = batch.lookups.incident(row.incident_id) if row.incident_id else None
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
            self._resolved(batch, row, signal, inc, unconfirmed, now)
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
            self.kernel.reopen(journal, inc, f"alert {row.alertname} fired again")
        else:
            row.outcome = AWAITING_INCIDENT
            row.incident_id = None

    def _resolved(
        self,
        batch: Batch,
        row: AlertRow,
        signal: AlertSignal,
        inc: Incident | None,
        unconfirmed: bool,
        now: datetime,
    ) -> None:
        assert row.starts_at is not None
        row.resolved_at = now
        ends = signal.ends_at
        row.ends_at = ends if ends is not None and ends >= row.starts_at else now
        lived = (row.ends_at - row.starts_at).total_seconds()
        confirmation = self.settings.confirmation_window_seconds
        if lived <= confirmation and unconfirmed:
            assert inc is not None
            row.outcome = "resolved_in_window"
            row.reason = (
                f"resolved after {lived:.0f} s, inside its {confirmation:g} s confirmation window"
            )
            batch.dismiss[inc.id] = f"alert {row.alertname} {row.reason}"
        else:
            row.outcome, row.reason = "cleared", None
        if inc is not None:
            batch.attachments.add(inc, signal, "alert cleared")
