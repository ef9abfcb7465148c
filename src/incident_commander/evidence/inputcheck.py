"""The root-cause inputs' side of ``ic evidence verify``: each input sealed on the timeline is
listed in the manifest, recorded as written and on disk with the sha256 the chain sealed, and
everything the manifest lists exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from incident_commander.evidence.folder import RCA_DIR, RCA_MANIFEST
from incident_commander.evidence.manifest import INPUT_EVENT
from incident_commander.evidence.record import IncidentRecord
from incident_commander.store.models import ArtifactRecord

__all__ = ["check_inputs"]


def _sealed(record: IncidentRecord) -> dict[str, tuple[int, str]]:
    """Each added input's path: (the event that sealed it, its sha256)."""
    found: dict[str, tuple[int, str]] = {}
    for ev in record.events:
        path, digest = ev.data.get("path"), ev.data.get("sha256")
        if ev.kind == INPUT_EVENT and isinstance(path, str) and isinstance(digest, str):
            found[path] = (ev.seq, digest)
    return found


def check_inputs(
    base: Path,
    record: IncidentRecord,
    rows: list[ArtifactRecord],
    manifest: dict[str, Any],
    problems: list[str],
) -> None:
    """Append what does not match for the inputs of ``root-cause-inputs/``.

    A file that differs from its recorded hash is named by the file check; here the recorded
    hash itself is held to the seal, so rewriting a file and its row together is found too.
    """
    recorded = {row.path: row for row in rows}
    for path, (seq, digest) in sorted(_sealed(record).items()):
        entry = manifest.get(path)
        row = recorded.get(path)
        if entry is None:
            problems.append(f"{path}: sealed at event #{seq} but not listed in {RCA_MANIFEST}")
        elif entry.get("sha256") != digest:
            problems.append(
                f"{path}: its sha256 in {RCA_MANIFEST} is not the one sealed at event #{seq}"
            )
        if row is None:
            problems.append(f"{path}: sealed at event #{seq} but never recorded as written")
        elif row.sha256 != digest:
            problems.append(f"{path}: its recorded hash is not the one sealed at event #{seq}")
    for path in sorted(manifest):
        if path.startswith(f"{RCA_DIR}/") and path not in recorded:
            where = "in the folder" if (base / path).is_file() else "missing"
            problems.append(f"{path}: listed in {RCA_MANIFEST} but never written by ic ({where})")
