"""The incident folder: render from the store, write atomically, record each file's hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from incident_commander.clock import isoformat, utcnow
from incident_commander.config import Settings
from incident_commander.evidence.files import atomic_write, sha256_file
from incident_commander.evidence.manifest import added_entries, render_manifest
from incident_commander.evidence.record import IncidentRecord
from incident_commander.evidence.render import render_all
from incident_commander.store.models import ArtifactRecord

__all__ = ["RCA_DIR", "RCA_MANIFEST", "EvidenceFolder"]

RCA_DIR = "root-cause-inputs"
RCA_MANIFEST = "rca-manifest.json"


class EvidenceFolder:
    """``<evidence_root>/<INCIDENT-ID>/``, kept in step with the store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.evidence_dir

    def path(self, incident_id: str) -> Path:
        return self.root / incident_id

    def write(self, session: Session, incident_id: str, files: dict[str, str | bytes]) -> None:
        """Write each file atomically when its content changed, and record its hash."""
        folder = self.path(incident_id)
        known = {
            row.path: row
            for row in session.scalars(
                select(ArtifactRecord).where(ArtifactRecord.incident_id == incident_id)
            )
        }
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            digest = hashlib.sha256(data).hexdigest()
            target = folder / name
            row = known.get(name)
            if row is not None and row.sha256 == digest and target.is_file():
                continue
            atomic_write(target, data)
            if row is None:
                row = ArtifactRecord(incident_id=incident_id, path=name)
                session.add(row)
            row.sha256 = digest
            row.size = len(data)
            row.written_at = utcnow()

    def sync(self, session: Session, record: IncidentRecord) -> None:
        """Bring every step file up to date with the store."""
        self.write(session, record.incident.id, dict(render_all(record, self.settings)))

    def archive_rca(
        self, session: Session, record: IncidentRecord, inputs: dict[str, tuple[str, str, str]]
    ) -> None:
        """Write the engine's ``root-cause-inputs/`` and the manifest of every input.

        ``inputs`` maps a file name to (content, source, evidence level); the inputs added by
        people and diagnostics (on the timeline) are listed beside them.
        """
        now = isoformat(utcnow()) or ""
        files: dict[str, str | bytes] = {}
        manifest = []
        for name, (content, source, level) in sorted(inputs.items()):
            data = content.encode()
            files[f"{RCA_DIR}/{name}"] = data
            manifest.append(
                {
                    "path": f"{RCA_DIR}/{name}",
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "source": source,
                    "evidence_level": level,
                    "kind": "engine",
                    "added_by": "ic",
                    "added_at": now,
                }
            )
        manifest += added_entries(record)
        files[RCA_MANIFEST] = render_manifest(record.incident.id, now, manifest)
        self.write(session, record.incident.id, files)

    def write_manifest(self, session: Session, record: IncidentRecord) -> None:
        """The manifest of the inputs added so far (before the post-mortem package exists)."""
        entries = added_entries(record)
        if entries:
            stamp = str(entries[-1].get("added_at"))
            content = render_manifest(record.incident.id, stamp, entries)
            self.write(session, record.incident.id, {RCA_MANIFEST: content})

    def recorded(self, session: Session, incident_id: str) -> list[ArtifactRecord]:
        return list(
            session.scalars(
                select(ArtifactRecord)
                .where(ArtifactRecord.incident_id == incident_id)
                .order_by(ArtifactRecord.path)
            )
        )

    def changed(self, row: ArtifactRecord) -> str | None:
        """Why a recorded file no longer matches, or ``None`` when it does."""
        target = self.path(row.incident_id) / row.path
        if not target.is_file():
            return f"{row.path}: missing (recorded sha256 {row.sha256[:12]}…)"
        found = sha256_file(target)
        if found != row.sha256:
            return f"{row.path}: changed since written (sha256 {row.sha256[:12]}… → {found[:12]}…)"
        return None
