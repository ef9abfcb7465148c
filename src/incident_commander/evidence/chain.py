"""The timeline hash chain: each line's hash covers the previous hash and the line itself."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from incident_commander.clock import isoformat

__all__ = ["GENESIS", "LINE_PATTERN", "chain_hash", "event_line", "timeline_entry"]

GENESIS = "0" * 64
LINE_PATTERN = re.compile(
    r"^- (?P<line>(?P<seq>\d{4,}) \S+ \S+ .*) · chain:(?P<hash>[0-9a-f]{64})$"
)


def event_line(seq: int, at: datetime, kind: str, message: str) -> str:
    """The canonical text of one timeline event (one line, no newlines)."""
    return f"{seq:04d} {isoformat(at)} {kind} {message}"


def chain_hash(prev_hash: str, line: str) -> str:
    """sha256 over the previous hash and this line."""
    return hashlib.sha256(f"{prev_hash}\n{line}".encode()).hexdigest()


def timeline_entry(line: str, digest: str) -> str:
    """How a line appears in ``incident-timeline.md``."""
    return f"- {line} · chain:{digest}"
