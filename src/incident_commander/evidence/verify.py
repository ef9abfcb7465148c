"""``ic evidence verify``: recompute the timeline chain and every recorded file hash."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from incident_commander.evidence.chain import GENESIS, LINE_PATTERN, chain_hash, event_line
from incident_commander.evidence.folder import EvidenceFolder
from incident_commander.evidence.record import IncidentRecord
from incident_commander.evidence.render import TIMELINE

__all__ = ["Verification", "verify"]


@dataclass
class Verification:
    """The outcome: ``problems`` is empty when everything matches; the first is the first break."""

    incident_id: str
    events: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _store_chain(record: IncidentRecord, result: Verification) -> None:
    prev = GENESIS
    for ev in record.events:
        line = event_line(ev.seq, ev.at, ev.kind, ev.message)
        if ev.prev_hash != prev or ev.hash != chain_hash(prev, line):
            result.problems.append(f"store: timeline event #{ev.seq} does not match its chain hash")
            return
        prev = ev.hash


def _file_chain(folder: EvidenceFolder, record: IncidentRecord, result: Verification) -> None:
    path = folder.path(record.incident.id) / TIMELINE
    if not path.is_file():
        result.problems.append(f"{TIMELINE}: missing")
        return
    entries = [
        (number, line)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if line.startswith("- ")
    ]
    prev = GENESIS
    for index, (number, text) in enumerate(entries):
        match = LINE_PATTERN.match(text)
        if match is None:
            result.problems.append(f"{TIMELINE} line {number}: not a timeline entry")
            return
        if chain_hash(prev, match["line"]) != match["hash"]:
            result.problems.append(
                f"{TIMELINE} line {number} (event #{int(match['seq'])}): content does not match "
                "its chain hash"
            )
            return
        if index >= len(record.events) or record.events[index].hash != match["hash"]:
            result.problems.append(
                f"{TIMELINE} line {number} (event #{int(match['seq'])}): differs from the store"
            )
            return
        prev = match["hash"]
    if len(entries) != len(record.events):
        result.problems.append(
            f"{TIMELINE}: {len(entries)} line(s) but {len(record.events)} event(s) recorded"
        )


def verify(session: Session, folder: EvidenceFolder, record: IncidentRecord) -> Verification:
    """Check the store's chain, the timeline file's chain, then every recorded file's hash."""
    result = Verification(incident_id=record.incident.id, events=len(record.events))
    _store_chain(record, result)
    _file_chain(folder, record, result)
    rows = folder.recorded(session, record.incident.id)
    result.files = len(rows)
    for row in rows:
        problem = folder.changed(row)
        if problem:
            result.problems.append(problem)
    return result
