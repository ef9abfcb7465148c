"""The alerts table as the intake works with it: few columns read, changes written in bulk.

An alert storm is mostly repeats. A repeat needs only an alert's status and count, so those
are read for every alert of a delivery; the timestamps and state changes a status change works
with are read only for the alerts whose status the delivery changes. Every change of a delivery
is written with one statement per shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, Table, bindparam, cast, insert, literal, select, update
from sqlalchemy.orm import Session

from incident_commander.alerts.signal import AlertSignal
from incident_commander.store.models import Alert

__all__ = ["AlertRow", "load_known", "save"]

# What a status change may touch.
_CHANGE = (
    *("last_seen", "occurrences", "outcome", "reason", "status"),
    *("flips", "ends_at", "resolved_at", "incident_id"),
)


@dataclass
class AlertRow:
    """One alert's state during a delivery; ``id`` is ``None`` until it is first written."""

    source: str
    fingerprint: str
    status: str
    alertname: str
    group_key: str
    occurrences: int
    outcome: str
    id: int | None = None
    incident_id: str | None = None
    # Read for a known alert only when its status changes (see ``load_known``).
    starts_at: datetime | None = None
    flips: list[Any] = field(default_factory=list)
    # Written, never read back.
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    ends_at: datetime | None = None
    resolved_at: datetime | None = None
    reason: str | None = None
    # Only a first sighting carries these; a known alert keeps what it has.
    first: AlertSignal | None = None
    repeats: int = 0  # seen again this many times since it was read
    changed: bool = False  # more than a repeat: write every column of ``_CHANGE``

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.fingerprint


_TABLE: Table = Alert.__table__  # type: ignore[assignment]
_LEAN = [
    _TABLE.c[name]
    for name in (
        *("source", "fingerprint", "status", "alertname", "group_key"),
        *("occurrences", "outcome", "id", "incident_id"),
    )
]
_CHANGE_STATEMENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values({name: bindparam(name) for name in _CHANGE})
)


def load_known(session: Session, signals: Iterable[AlertSignal]) -> dict[tuple[str, str], AlertRow]:
    """The alerts of these signals already on record, in one query per source.

    A status change needs the alert's start and its recent state changes; those are read,
    in one more query, only for the alerts that some signal of the delivery changes.
    """
    signals = list(signals)
    by_source: dict[str, set[str]] = {}
    for signal in signals:
        by_source.setdefault(signal.source, set()).add(signal.fingerprint)
    known: dict[tuple[str, str], AlertRow] = {}
    names = [column.key for column in _LEAN]
    connection = session.connection()
    for source, fingerprints in by_source.items():
        rows = connection.execute(
            select(*_LEAN).where(_TABLE.c.source == source, _TABLE.c.fingerprint.in_(fingerprints))
        )
        for values in rows:
            loaded = AlertRow(**dict(zip(names, values, strict=True)))
            known[loaded.key] = loaded
    changing: dict[int, AlertRow] = {}
    for signal in signals:
        row = known.get((signal.source, signal.fingerprint))
        if row is not None and row.id is not None and row.status != signal.status:
            changing[row.id] = row
    if changing:
        details = connection.execute(
            select(_TABLE.c.id, _TABLE.c.starts_at, _TABLE.c.flips).where(_TABLE.c.id.in_(changing))
        )
        for row_id, starts_at, flips in details:
            changing[row_id].starts_at, changing[row_id].flips = starts_at, flips
    return known


def save(session: Session, rows: Iterable[AlertRow], now: datetime) -> None:
    """Insert the new rows and write the others' changes.

    Alerts only repeated are counted up in one statement per repeat count, whatever their
    number; each status change is written with all it touched.
    """
    new: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    repeated: dict[int, list[int]] = {}
    for row in rows:
        if row.id is None:
            assert row.first is not None
            new.append(_insert_values(row, row.first))
        elif row.changed:
            changes.append({"row_id": row.id, **{name: getattr(row, name) for name in _CHANGE}})
        elif row.repeats:
            repeated.setdefault(row.repeats, []).append(row.id)
        row.repeats, row.changed = 0, False
    connection = session.connection()
    if new:
        connection.execute(insert(_TABLE), new)
    if changes:
        connection.execute(_CHANGE_STATEMENT, changes)
    for count, ids in repeated.items():
        occurrences = _TABLE.c.occurrences + count
        connection.execute(
            update(_TABLE)
            .where(_TABLE.c.id.in_(ids))
            .values(
                occurrences=occurrences,
                last_seen=now,
                outcome="duplicate",
                reason=literal("repeat #", String) + cast(occurrences, String),
            )
        )


def _insert_values(row: AlertRow, signal: AlertSignal) -> dict[str, Any]:
    return {
        "source": row.source,
        "fingerprint": row.fingerprint,
        "status": row.status,
        "alertname": row.alertname,
        "group_key": row.group_key,
        "summary": signal.summary[:10_000],
        "labels": signal.labels,
        "annotations": signal.annotations,
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "first_seen": row.first_seen or row.last_seen,
        "last_seen": row.last_seen,
        "resolved_at": row.resolved_at,
        "occurrences": row.occurrences,
        "flips": row.flips,
        "outcome": row.outcome,
        "reason": row.reason,
        "incident_id": row.incident_id,
    }
