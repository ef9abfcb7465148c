"""The head log: each chain head, appended outside the database as it is committed.

``<evidence_root>/chain-heads.log`` holds one JSON line per append: incident, seq, head hash,
time, and an HMAC-SHA256 over those four when ``IC_EVIDENCE_KEY`` is set. A store whose chain
no longer extends a logged head was rewritten or cut short. Without the key the lines are only
hashes: whoever rewrites the store and this log together goes unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from incident_commander.clock import isoformat, utcnow
from incident_commander.evidence.chain import canonical

__all__ = ["HEAD_LOG", "KEY_ENV", "append_heads", "check_heads", "evidence_key"]

HEAD_LOG = "chain-heads.log"
KEY_ENV = "IC_EVIDENCE_KEY"


def evidence_key() -> bytes | None:
    """The signing key from ``IC_EVIDENCE_KEY``, or ``None`` when unset or empty."""
    value = os.environ.get(KEY_ENV, "")
    return value.encode() if value else None


def _signature(key: bytes, incident: str, seq: int, head: str, at: str) -> str:
    body = canonical({"incident": incident, "seq": seq, "head": head, "at": at})
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def append_heads(root: Path, heads: Iterable[tuple[str, int, str]]) -> None:
    """Append (incident, seq, head) lines, signed when a key is set, in one write."""
    key = evidence_key()
    at = isoformat(utcnow()) or ""
    lines = [
        json.dumps(
            {
                "incident": incident,
                "seq": seq,
                "head": head,
                "at": at,
                "hmac": _signature(key, incident, seq, head, at) if key else None,
            },
            sort_keys=True,
        )
        + "\n"
        for incident, seq, head in heads
    ]
    if not lines:
        return
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / HEAD_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, "".join(lines).encode())
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class _Logged:
    number: int
    seq: int
    head: str
    at: str
    signed: bool


def _read(root: Path, incident_id: str, key: bytes | None) -> tuple[list[_Logged], list[str]]:
    path = root / HEAD_LOG
    if not path.is_file():
        return [], []
    found: list[_Logged] = []
    problems: list[str] = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(text)
            incident, seq, head, at = entry["incident"], entry["seq"], entry["head"], entry["at"]
            mac = entry.get("hmac")
        except (ValueError, KeyError, TypeError):
            problems.append(f"{HEAD_LOG} line {number}: not a head entry")
            continue
        if incident != incident_id:
            continue
        if key is not None and mac is not None:
            if not hmac.compare_digest(str(mac), _signature(key, incident, seq, head, at)):
                problems.append(
                    f"{HEAD_LOG} line {number}: signature does not match (the line was edited, "
                    f"or signed with another {KEY_ENV})"
                )
                continue
        found.append(_Logged(number, int(seq), str(head), str(at), key is not None and bool(mac)))
    return found, problems


def check_heads(
    root: Path, incident_id: str, chain: Mapping[int, str], *, anchored: bool
) -> tuple[list[str], list[str]]:
    """Problems and notes: does the store's chain (seq → hash) extend every logged head?

    ``anchored`` says the chain was written by a version that logs its heads, so a missing
    entry is a problem rather than a note.
    """
    key = evidence_key()
    logged, problems = _read(root, incident_id, key)
    notes: list[str] = []
    if key is None:
        notes.append(
            f"{KEY_ENV} is not set: {HEAD_LOG} is not signed, so a rewrite of the store and the "
            f"head log together would go undetected (set {KEY_ENV})"
        )
    missing = None
    if not logged:
        missing = f"{HEAD_LOG}: no head recorded for this incident; its chain is anchored nowhere"
    elif key is not None and not any(entry.signed for entry in logged):
        missing = (
            f"{HEAD_LOG}: no signed head for this incident (recorded without {KEY_ENV}, "
            "or its signed lines were removed)"
        )
    if missing and chain:
        (problems if anchored else notes).append(missing)
    last = max(chain, default=0)
    for entry in logged:
        if entry.seq > last:
            problems.append(
                f"store: the chain ends at event #{last}, but {HEAD_LOG} line {entry.number} "
                f"recorded event #{entry.seq} at {entry.at}: events were removed"
            )
            break
        if chain.get(entry.seq) != entry.head:
            problems.append(
                f"store: event #{entry.seq} differs from the head {HEAD_LOG} line {entry.number} "
                f"recorded at {entry.at}: the chain was rewritten"
            )
            break
    return problems, notes
