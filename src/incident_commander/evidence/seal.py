"""Sealing each step: as it commits, the last event of each incident it wrote to carries the
digests of everything recorded about that incident, and the new heads go to the head log.

A later change to a row (an execution going from started to succeeded) happens in a step that
writes events too, so its new digest is sealed into the chain by that step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from incident_commander.evidence.chain import event_hash, event_line
from incident_commander.evidence.digest import content_digests, extend_signals, row_digests
from incident_commander.evidence.heads import append_heads
from incident_commander.store.models import (
    Decision,
    Deploy,
    Event,
    Execution,
    Incident,
    Notification,
    Signal,
)

__all__ = ["appended", "last_event"]

_KEY = "incident_commander.seal"
_log = logging.getLogger(__name__)


@dataclass
class _Step:
    root: Path
    incidents: dict[str, Incident] = field(default_factory=dict)
    first: dict[str, int] = field(default_factory=dict)  # first seq this step wrote
    last: dict[str, Event] = field(default_factory=dict)  # last event written, across commits
    open: set[str] = field(default_factory=set)  # incidents not sealed yet


def last_event(session: Session, incident_id: str) -> Event | None:
    """The last event this session appended for the incident (its hash is current)."""
    step = session.info.get(_KEY)
    return step.last.get(incident_id) if isinstance(step, _Step) else None


def appended(session: Session, root: Path, inc: Incident, row: Event) -> None:
    """Note an event appended in ``session``; the first call hooks the session's commit."""
    step = session.info.get(_KEY)
    if not isinstance(step, _Step):
        step = _Step(root)
        session.info[_KEY] = step
        event.listen(session, "before_commit", _seal)
        event.listen(session, "after_commit", _log_heads)
        event.listen(session, "after_rollback", _forget)
    step.incidents[inc.id] = inc
    step.first.setdefault(inc.id, row.seq)
    step.last[inc.id] = row
    step.open.add(inc.id)


def _previous(session: Session, incident_id: str, seq: int) -> dict[str, str] | None:
    """The digests sealed by the step before this one, if it sealed any."""
    if seq <= 1:
        return None
    data = session.scalar(
        select(Event.data).where(Event.incident_id == incident_id, Event.seq == seq - 1)
    )
    found = (data or {}).get("digests")
    return dict(found) if isinstance(found, dict) else None


def _digests(session: Session, inc: Incident, previous: dict[str, str] | None) -> dict[str, str]:
    known = previous.get("signals") if previous else None
    done = int(known.split(":", 1)[0]) if known else 0
    fresh = session.scalars(
        select(Signal).where(Signal.incident_id == inc.id).order_by(Signal.id).offset(done)
    )
    signals = extend_signals(known, fresh)

    def rows(model: Any) -> list[Any]:
        where = model.incident_id == inc.id
        return list(session.scalars(select(model).where(where).order_by(model.id)))

    deploy = session.get(Deploy, inc.suspect_deploy_id) if inc.suspect_deploy_id else None
    return content_digests(
        inc, deploy, signals, row_digests(rows(Decision), rows(Execution), rows(Notification))
    )


def _seal(session: Session) -> None:
    step = session.info.get(_KEY)
    if not isinstance(step, _Step) or not step.open:
        return
    session.flush()
    for incident_id in sorted(step.open):
        row = step.last[incident_id]
        previous = _previous(session, incident_id, step.first[incident_id])
        data = {**row.data, "digests": _digests(session, step.incidents[incident_id], previous)}
        row.data = data
        row.hash = event_hash(
            row.prev_hash, event_line(row.seq, row.at, row.kind, row.message), data
        )


def _log_heads(session: Session) -> None:
    step = session.info.get(_KEY)
    if not isinstance(step, _Step) or not step.open:
        return
    heads = [(i, step.last[i].seq, step.last[i].hash) for i in sorted(step.open)]
    step.open.clear()
    step.first.clear()
    try:
        append_heads(step.root, heads)
    except OSError as exc:  # the step is committed; the evidence says what is unanchored
        _log.warning("could not append to the head log: %s", exc)


def _forget(session: Session) -> None:
    step = session.info.get(_KEY)
    if isinstance(step, _Step):
        for held in (step.incidents, step.first, step.last):
            held.clear()
        step.open.clear()
