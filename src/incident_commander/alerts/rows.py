"""The alerts table as the intake works with it: little read, changes written in bulk.

An alert storm is mostly repeats. A repeat needs only an alert's status and count; the
process keeps those for the alerts it wrote last (``KnownAlerts``) and reads only the alerts it
does not hold. The timestamps and state changes a status change works with are read only for
the alerts whose status a delivery changes. Every change of a delivery is written with one
statement per shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from incident_commander.alerts.signal import AlertSignal
from incident_commander.store.models import Alert, IntakeWrites

__all__ = ["COUNT_WRITE_SQL", "AlertRow", "KnownAlerts", "save"]

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
    # Read for a known alert only when its status changes (see ``KnownAlerts.load``); a stored
    # alert always has a start, so ``starts_at is None`` means these were not read.
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


_TABLE = Alert.metadata.tables["alerts"]
_LEAN = [
    _TABLE.c[name]
    for name in (
        *("source", "fingerprint", "status", "alertname", "group_key"),
        *("occurrences", "outcome", "id", "incident_id"),
    )
]
# Built once: the intake runs these for every delivery.
_COUNTER = IntakeWrites.metadata.tables["intake_writes"].c
_COUNT_WRITE = (
    update(IntakeWrites)
    .where(_COUNTER.id == 1)
    .values(count=_COUNTER.count + 1)
    .returning(_COUNTER.count)
)
COUNT_WRITE_SQL = "UPDATE intake_writes SET count = count + 1 WHERE id = 1 RETURNING count"
"""``_COUNT_WRITE`` as the driver's SQL, for a caller that sends it along with other statements."""
_READ_LEAN = select(*_LEAN).where(
    _TABLE.c.source == bindparam("source"),
    _TABLE.c.fingerprint.in_(bindparam("fingerprints", expanding=True)),
)
_READ_DETAILS = select(_TABLE.c.id, _TABLE.c.starts_at, _TABLE.c.flips).where(
    _TABLE.c.id.in_(bindparam("ids", expanding=True))
)
_REPEATED = _TABLE.c.occurrences + bindparam("times")
_AS_REPEAT = {
    "occurrences": _REPEATED,
    "last_seen": bindparam("now", type_=_TABLE.c.last_seen.type),
    "outcome": "duplicate",
    "reason": literal("repeat #", String) + cast(_REPEATED, String),
}
_COUNT_REPEATS = (
    update(_TABLE).where(_TABLE.c.id.in_(bindparam("ids", expanding=True))).values(_AS_REPEAT)
)
# PostgreSQL takes the ids as one array: the statement text stays the same whatever their
# number (prepared once per connection, no list of placeholders to render and parse per
# delivery), and its plan joins the ids to the primary key however large the table grows.
_REPEAT_IDS = (
    func.unnest(bindparam("ids", type_=ARRAY(Integer)))
    .table_valued("id")
    .render_derived(name="repeated")
)
_COUNT_REPEATS_PG = update(_TABLE).where(_TABLE.c.id == _REPEAT_IDS.c.id).values(_AS_REPEAT)
# Inline: the ids of new rows are never read back, so the statement asks for no result (and
# may run with others sent together, see ``Store.writes_together``).
_INSERT = insert(_TABLE).inline()
_WRITE_CHANGE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values({name: bindparam(name) for name in _CHANGE})
)


class KnownAlerts:
    """Alert rows as this process last wrote them, so that a repeat needs no read.

    They stay true while no other process writes alerts: each intake write counts itself in
    ``intake_writes``, and a count other than the one expected means another process (a replica,
    ``ic alerts ingest``) wrote meanwhile, so everything is read again. The caller calls
    ``forget`` when a write fails, since its rows may then hold what was never committed.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._rows: dict[tuple[str, str], AlertRow] = {}
        self._count: int | None = None

    def forget(self) -> None:
        self._rows.clear()
        self._count = None

    def load(
        self, session: Session, signals: list[AlertSignal], count: int | None = None
    ) -> dict[tuple[str, str], AlertRow]:
        """The rows of these signals' alerts already on record (inside the write's transaction).

        ``count`` is this write's count in ``intake_writes`` when the caller has counted it
        already (``COUNT_WRITE_SQL``); otherwise it is counted here.
        """
        connection = session.connection()
        if count is None:
            count = connection.execute(_COUNT_WRITE).scalar_one()
        if self._count is None or count != self._count + 1 or len(self._rows) > self.limit:
            self._rows.clear()
        self._count = count
        missing: dict[str, set[str]] = {}
        for signal in signals:
            if (signal.source, signal.fingerprint) not in self._rows:
                missing.setdefault(signal.source, set()).add(signal.fingerprint)
        for source, fingerprints in missing.items():
            self._rows.update(_read(connection, source, fingerprints))
        known = {
            key: self._rows[key]
            for key in ((signal.source, signal.fingerprint) for signal in signals)
            if key in self._rows
        }
        _read_details(connection, known, signals)
        return known


def _read(
    connection: Connection, source: str, fingerprints: set[str]
) -> dict[tuple[str, str], AlertRow]:
    names = [column.key for column in _LEAN]
    rows = connection.execute(_READ_LEAN, {"source": source, "fingerprints": list(fingerprints)})
    read = (AlertRow(**dict(zip(names, values, strict=True))) for values in rows)
    return {row.key: row for row in read}


def _read_details(
    connection: Connection, known: dict[tuple[str, str], AlertRow], signals: list[AlertSignal]
) -> None:
    """Read start and state changes of the alerts some signal changes the status of."""
    changing: dict[int, AlertRow] = {}
    for signal in signals:
        row = known.get((signal.source, signal.fingerprint))
        if row is not None and row.id is not None and row.starts_at is None:
            if row.status != signal.status:
                changing[row.id] = row
    if not changing:
        return
    details = connection.execute(_READ_DETAILS, {"ids": list(changing)})
    for row_id, starts_at, flips in details:
        row = changing[row_id]
        row.starts_at, row.flips = starts_at, flips


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
        connection.execute(_INSERT, new)
    if changes:
        connection.execute(_WRITE_CHANGE, changes)
    count_repeats = _COUNT_REPEATS_PG if connection.dialect.name == "postgresql" else _COUNT_REPEATS
    for times, ids in repeated.items():
        connection.execute(count_repeats, {"ids": ids, "times": times, "now": now})


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
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "resolved_at": row.resolved_at,
        "occurrences": row.occurrences,
        "flips": row.flips,
        "outcome": row.outcome,
        "reason": row.reason,
        "incident_id": row.incident_id,
    }
