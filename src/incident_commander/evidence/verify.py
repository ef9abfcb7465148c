"""``ic evidence verify``: recompute the chain from the store and from the files, check the store's
content against the digests sealed in the chain, the chain against the head log, and the files
against what the store renders and the hashes recorded as they were written."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from incident_commander.evidence.chain import GENESIS, chain_hash, event_hash, event_line
from incident_commander.evidence.digest import (
    content_digests,
    extend_signals,
    row_digests,
    subject_of,
)
from incident_commander.evidence.filecheck import check_files
from incident_commander.evidence.folder import EvidenceFolder
from incident_commander.evidence.heads import check_heads
from incident_commander.evidence.record import IncidentRecord

__all__ = ["Verification", "verify"]


@dataclass
class Verification:
    """The outcome: ``problems`` is empty when everything matches; the first is the first break.

    ``notes`` say what the check could not vouch for (an unsigned head log, old events).
    """

    incident_id: str
    events: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _store_chain(record: IncidentRecord, result: Verification) -> None:
    prev = GENESIS
    unsealed = 0
    for index, ev in enumerate(record.events, start=1):
        if ev.seq != index:
            result.problems.append(
                f"store: event #{ev.seq} found where #{index} belongs: events are missing"
            )
            return
        line = event_line(ev.seq, ev.at, ev.kind, ev.message)
        if ev.prev_hash != prev:
            result.problems.append(f"store: event #{ev.seq} does not chain from the one before")
            return
        if ev.hash != event_hash(prev, line, ev.data):
            if "digests" in ev.data or ev.hash != chain_hash(prev, line):
                result.problems.append(
                    f"store: timeline event #{ev.seq} ({ev.kind}) does not match its chain hash "
                    "(its line or its data was changed)"
                )
                return
            unsealed += 1
        prev = ev.hash
    if unsealed:
        result.notes.append(
            f"{unsealed} event(s) were chained before event data was covered; "
            "their data is not verified"
        )


def _label(record: IncidentRecord, key: str) -> str:
    kinds = {f"decision #{d.id}": f"decision #{d.id} ({d.kind})" for d in record.decisions}
    kinds |= {
        f"execution #{e.id}": f"execution #{e.id} ({e.option_name})" for e in record.executions
    }
    return kinds.get(key, subject_of(key))


def _content(record: IncidentRecord, result: Verification) -> None:
    sealed: dict[str, str] | None = None
    seq = 0
    for ev in reversed(record.events):
        if isinstance(ev.data.get("digests"), dict):
            sealed, seq = ev.data["digests"], ev.seq
            break
    if sealed is None:
        if record.events:
            result.notes.append(
                "no event carries content digests (recorded before they were): the rows the "
                "evidence is rendered from are not verified"
            )
        return
    current = content_digests(
        record.incident,
        record.suspect_deploy,
        extend_signals(None, record.signals),
        row_digests(record.decisions, record.executions, record.notifications),
    )
    for key in sorted(set(sealed) | set(current)):
        label = _label(record, key)
        if key not in current:
            result.problems.append(
                f"store: {label} was sealed at event #{seq} but is gone from the store"
            )
        elif key not in sealed:
            result.problems.append(f"store: {label} is in the store but sealed in no event")
        elif sealed[key] != current[key]:
            result.problems.append(f"store: {label} differs from its digest sealed at event #{seq}")


def verify(session: Session, folder: EvidenceFolder, record: IncidentRecord) -> Verification:
    """Check the store's chain and content, the head log, then the folder."""
    result = Verification(incident_id=record.incident.id, events=len(record.events))
    _store_chain(record, result)
    problems, notes = check_heads(
        folder.root,
        record.incident.id,
        {ev.seq: ev.hash for ev in record.events},
        anchored=any("digests" in ev.data for ev in record.events),
    )
    result.problems += problems
    result.notes += notes
    _content(record, result)
    result.files = check_files(session, folder, record, result.problems)
    return result
