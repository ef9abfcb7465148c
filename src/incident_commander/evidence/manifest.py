"""``rca-manifest.json``: every root-cause input with its sha256, size, source, time, who added
it and its evidence level.

The inputs people and diagnostics add are recorded in the store, one timeline event each
(``evidence.input``, its data the manifest entry), so the hash chain seals their hashes; the
engine's own inputs (execution outputs, check results, deploy history) are derived from the
record when the post-mortem package is written.
"""

from __future__ import annotations

import json
from typing import Any

from incident_commander.config_evidence import EVIDENCE_LEVELS
from incident_commander.evidence.record import IncidentRecord

__all__ = ["INPUT_EVENT", "added_entries", "cited", "render_manifest"]

INPUT_EVENT = "evidence.input"
_ORDER = {level: n for n, level in enumerate(EVIDENCE_LEVELS)}


def added_entries(record: IncidentRecord) -> list[dict[str, Any]]:
    """The inputs recorded on the timeline, in the order they were added."""
    return [
        {key: value for key, value in ev.data.items() if key != "digests"}
        for ev in record.events
        if ev.kind == INPUT_EVENT and isinstance(ev.data.get("path"), str)
    ]


def render_manifest(incident_id: str, generated_at: str, entries: list[dict[str, Any]]) -> str:
    """The manifest: strongest evidence first (physics, receipts, artifacts, narrative)."""
    files = sorted(entries, key=lambda e: (_ORDER.get(e.get("evidence_level", ""), 9), e["path"]))
    return (
        json.dumps(
            {
                "incident_id": incident_id,
                "generated_at": generated_at,
                "evidence_levels": list(EVIDENCE_LEVELS),
                "files": files,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


def cited(record: IncidentRecord) -> list[str]:
    """One line per input recorded so far, as the plan and the report cite them."""
    lines = []
    for entry in added_entries(record):
        code = entry.get("exit_code")
        outcome = f", exit {code}" if code is not None else ""
        if entry.get("kind") == "diagnostic" and code is None:
            outcome = ", no exit code (cut or not run)"
        lines.append(
            f"`{entry['path']}` ({entry.get('evidence_level')}{outcome}; "
            f"{entry.get('added_by')} at {entry.get('added_at')}): {entry.get('source')}"
        )
    return lines
