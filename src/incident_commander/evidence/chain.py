"""The timeline hash chain: each event's hash covers the previous hash, the line and its data."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from incident_commander.clock import isoformat

__all__ = [
    "CHAIN_FILE",
    "GENESIS",
    "LINE_PATTERN",
    "canonical",
    "chain_file",
    "chain_hash",
    "digest",
    "event_hash",
    "event_line",
    "timeline_entry",
]

GENESIS = "0" * 64
CHAIN_FILE = "incident-chain.jsonl"
LINE_PATTERN = re.compile(
    r"^- (?P<line>(?P<seq>\d{4,}) \S+ \S+ .*) · chain:(?P<hash>[0-9a-f]{64})$"
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def canonical(value: Any) -> bytes:
    """One byte string per JSON value, the same before and after a trip through the store.

    Keys are sorted; timestamps become ISO 8601 UTC; what the store would write with the
    standard library (integers beyond 64 bits, non-string keys) goes through it here too.
    """
    try:
        once = orjson.dumps(value, default=_plain)
    except TypeError:
        once = json.dumps(value, default=_plain).encode()
    return orjson.dumps(orjson.loads(once), option=orjson.OPT_SORT_KEYS)


def digest(value: Any) -> str:
    """Hex sha256 of :func:`canonical`."""
    return hashlib.sha256(canonical(value)).hexdigest()


def event_line(seq: int, at: datetime, kind: str, message: str) -> str:
    """The canonical text of one timeline event (one line, no newlines)."""
    return f"{seq:04d} {isoformat(at)} {kind} {message}"


def chain_hash(prev_hash: str, line: str) -> str:
    """sha256 over the previous hash and the line alone (events chained before data was)."""
    return hashlib.sha256(f"{prev_hash}\n{line}".encode()).hexdigest()


def event_hash(prev_hash: str, line: str, data: dict[str, Any]) -> str:
    """sha256 over the previous hash, the line and the event's data (its content digests)."""
    body = f"{prev_hash}\n{line}\n".encode() + canonical(data)
    return hashlib.sha256(body).hexdigest()


def timeline_entry(line: str, digest: str) -> str:
    """How a line appears in ``incident-timeline.md``."""
    return f"- {line} · chain:{digest}"


def chain_file(entries: Iterable[tuple[str, dict[str, Any], str, str]]) -> str:
    """``incident-chain.jsonl``: one JSON object per event (line, data, prev, hash)."""
    return "".join(
        json.dumps(
            {"line": line, "data": data, "prev": prev, "hash": digest},
            ensure_ascii=False,
            sort_keys=True,
        )
        + "\n"
        for line, data, prev, digest in entries
    )
