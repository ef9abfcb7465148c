"""The incident folder: render from the store, write atomically, record each file's hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from incident_commander.clock import isoformat, utcnow
from incident_commander.config import Settings
from incident_commander.evidence.files import atomic_write, sha256_file
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
        """Write ``root-cause-inputs/`` and its manifest.

        ``inputs`` maps a file name to (content, source, evidence level).
        """
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
                }
            )
        files[RCA_MANIFEST] = (
            json.dumps(
                {
                    "incident_id": record.incident.id,
                    "generated_at": isoformat(utcnow()),
                    "evidence_levels": ["physics", "receipts", "artifacts", "narrative"],
                    "files": manifest,
                },
                indent=2,
            )
            + "\n"
        )
        self.write(session, record.incident.id, files)

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
