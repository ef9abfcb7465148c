"""The folder's side of ``ic evidence verify``: the chain as written in the files, the files
against what the store renders now, and every file against the hash recorded when written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from incident_commander.evidence.chain import (
    CHAIN_FILE,
    GENESIS,
    LINE_PATTERN,
    chain_hash,
    event_hash,
    event_line,
    timeline_entry,
)
from incident_commander.evidence.folder import RCA_DIR, RCA_MANIFEST, EvidenceFolder
from incident_commander.evidence.inputcheck import check_inputs
from incident_commander.evidence.record import IncidentRecord
from incident_commander.evidence.render import STEP_FILES, TIMELINE, render_all
from incident_commander.reports.report import REPORT, render_report
from incident_commander.reports.retro import RETROSPECTIVE

__all__ = ["check_files"]

_Entry = tuple[str, str]  # (line, hash)


def _chain_file(path: Path, problems: list[str]) -> list[_Entry] | None:
    """The chain as ``incident-chain.jsonl`` holds it, recomputed from the file alone."""
    if not path.is_file():
        problems.append(f"{CHAIN_FILE}: missing")
        return None
    entries: list[_Entry] = []
    prev = GENESIS
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            item = json.loads(text)
            line, data, stated, digest = item["line"], item["data"], item["prev"], item["hash"]
            seq = int(line.split(" ", 1)[0])
        except (ValueError, KeyError, TypeError, AttributeError):
            problems.append(f"{CHAIN_FILE} line {number}: not a chain entry")
            return None
        intact = isinstance(data, dict) and (
            digest == event_hash(prev, line, data)
            or ("digests" not in data and digest == chain_hash(prev, line))
        )
        if stated != prev or not intact:
            problems.append(
                f"{CHAIN_FILE} line {number} (event #{seq}): content does not match its chain hash"
            )
            return None
        entries.append((line, str(digest)))
        prev = str(digest)
    return entries


def _timeline(path: Path, chain: list[_Entry], problems: list[str]) -> None:
    """Every line of ``incident-timeline.md`` is the chain's line with the chain's hash."""
    if not path.is_file():
        problems.append(f"{TIMELINE}: missing")
        return
    written = [
        (number, text)
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if text.startswith("- ")
    ]
    for index, (number, text) in enumerate(written):
        match = LINE_PATTERN.match(text)
        if match is None:
            problems.append(f"{TIMELINE} line {number}: not a timeline entry")
            return
        if index >= len(chain) or text != timeline_entry(*chain[index]):
            problems.append(
                f"{TIMELINE} line {number} (event #{int(match['seq'])}): content does not "
                "match its chain hash"
            )
            return
    if len(written) != len(chain):
        problems.append(f"{TIMELINE}: {len(written)} line(s) but {len(chain)} event(s) recorded")


def _chains(folder: EvidenceFolder, record: IncidentRecord, problems: list[str]) -> None:
    base = folder.path(record.incident.id)
    stored = [(event_line(ev.seq, ev.at, ev.kind, ev.message), ev.hash) for ev in record.events]
    chain = _chain_file(base / CHAIN_FILE, problems)
    if chain is None:  # still compare the timeline with the store's own chain
        _timeline(base / TIMELINE, stored, problems)
        return
    _timeline(base / TIMELINE, chain, problems)
    if chain != stored:
        first = next(
            (
                i
                for i, (mine, theirs) in enumerate(zip(chain, stored, strict=False))
                if mine != theirs
            ),
            min(len(chain), len(stored)),
        )
        problems.append(
            f"{CHAIN_FILE}: differs from the store from event #{first + 1} "
            f"({len(chain)} in the file, {len(stored)} in the store)"
        )


def _rendered(folder: EvidenceFolder, record: IncidentRecord, problems: list[str]) -> set[str]:
    """Compare each file the store renders with the one on disk; return the names."""
    base = folder.path(record.incident.id)
    expected: dict[str, str] = dict(render_all(record, folder.settings))
    if record.incident.resolution and (base / REPORT).is_file():
        expected[REPORT] = render_report(record, folder.settings)
    for name, content in sorted(expected.items()):
        target = base / name
        if target.is_file() and target.read_bytes() != content.encode():
            problems.append(f"{name}: differs from what the store renders")
    return set(expected)


def _manifest(base: Path) -> dict[str, Any]:
    try:
        data = json.loads((base / RCA_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {str(f.get("path")): f for f in files if isinstance(f, dict)} if files else {}


def check_files(
    session: Session, folder: EvidenceFolder, record: IncidentRecord, problems: list[str]
) -> int:
    """Append the folder's problems; return how many files are recorded."""
    _chains(folder, record, problems)
    rendered = _rendered(folder, record, problems)
    base = folder.path(record.incident.id)
    manifest = _manifest(base)
    # Written on request (``ic retro``): checked against the hash recorded when written.
    known = rendered | set(STEP_FILES) | {REPORT, RCA_MANIFEST, RETROSPECTIVE} | set(manifest)
    rows = folder.recorded(session, record.incident.id)
    for row in rows:
        problem = folder.changed(row)
        if problem:
            problems.append(problem)
        if row.path not in known:
            problems.append(f"{row.path}: recorded, but not a file this incident's record holds")
        entry = manifest.get(row.path)
        if row.path.startswith(f"{RCA_DIR}/") and entry and entry.get("sha256") != row.sha256:
            problems.append(f"{row.path}: does not match its sha256 in {RCA_MANIFEST}")
    check_inputs(base, record, rows, manifest, problems)
    recorded = {row.path for row in rows}
    if base.is_dir():
        for path in sorted(base.rglob("*")):
            name = path.relative_to(base).as_posix()
            if path.is_file() and not path.name.startswith(".") and name not in recorded:
                problems.append(f"{name}: in the folder, but never written by ic")
    return len(rows)
