"""Root-cause inputs gathered from outside: a file, a command's output, a fetched page.

Each is read, run or fetched before any step holds the store, bounded (a size limit for files,
a deadline and a byte limit for commands and pages) and redacted, and handed to the step that
archives it into ``root-cause-inputs/`` as a :class:`Gathered`.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr

from incident_commander.clock import isoformat, utcnow
from incident_commander.config import Settings
from incident_commander.config_evidence import EvidenceLevel
from incident_commander.errors import InvalidInput
from incident_commander.process import CommandRecord, run_argv
from incident_commander.redact import looks_secret, redact

__all__ = [
    "Gathered",
    "clip",
    "command_text",
    "fetch_url",
    "read_file",
    "run_command",
    "safe_name",
    "secrets_of",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_MAX = 80


@dataclass(frozen=True)
class Gathered:
    """One input ready to archive: its bytes and what the manifest says about it."""

    name: str  # a file name (made safe), unique once archived
    data: bytes
    source: str  # where it came from, in words
    level: EvidenceLevel
    kind: str  # file, command, url, diagnostic, deploy-diff
    at: datetime = field(default_factory=utcnow)
    exit_code: int | None = None
    note: str | None = None
    clipped: bool = False
    timed_out: bool = False
    original_sha256: str | None = None  # the file as given, when redaction changed it

    def entry(self) -> dict[str, Any]:
        """The manifest fields this input brings (path and who added it come later)."""
        found: dict[str, Any] = {
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "size": len(self.data),
            "source": self.source,
            "evidence_level": self.level,
            "kind": self.kind,
            "gathered_at": isoformat(self.at),
        }
        optional = {
            "exit_code": self.exit_code,
            "note": self.note,
            "clipped": self.clipped or None,
            "timed_out": self.timed_out or None,
            "original_sha256": self.original_sha256,
        }
        found |= {key: value for key, value in optional.items() if value is not None}
        return found


def safe_name(text: str, default: str = "input") -> str:
    """``text`` as a file name: letters, digits, ``.``, ``_`` and ``-`` only, never hidden."""
    name = _UNSAFE.sub("-", text).strip(".-_")[:_NAME_MAX].strip(".-_")
    return name or default


def _secret_values(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        yield os.path.expandvars(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secret_values(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secret_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secret_values(item)


def secrets_of(settings: Settings) -> list[str]:
    """Values never to archive: every secret of the settings, and every variable of this
    process whose name looks secret (a command run for evidence inherits them)."""
    found = [value for key, value in os.environ.items() if looks_secret(key) and value]
    found += [value for value in _secret_values(settings) if value]
    return sorted(set(found), key=lambda v: (-len(v), v))


def clip(data: bytes, max_bytes: int) -> tuple[bytes, bool]:
    """At most ``max_bytes``, with a line saying how much was cut."""
    if len(data) <= max_bytes:
        return data, False
    note = f"\n[... {len(data) - max_bytes} more bytes cut at {max_bytes} bytes]\n".encode()
    return data[: max(0, max_bytes - len(note))] + note, True


def _too_big(what: str, size: int, settings: Settings) -> InvalidInput:
    return InvalidInput(
        f"{what} is {size} bytes, over the limit for a root-cause input "
        f"({settings.evidence.limit_text})",
        hint="archive an excerpt, or raise evidence.max_input_bytes in ic.yaml",
    )


def read_file(
    path: Path, settings: Settings, *, level: EvidenceLevel, note: str | None, name: str | None
) -> Gathered:
    """A file as an input; refused when it is missing, not a file, or over the size limit."""
    try:
        info = path.stat()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not path.is_file():
        raise InvalidInput(f"{path}: not a file")
    limit = settings.evidence.max_input_bytes
    if info.st_size > limit:
        raise _too_big(str(path), info.st_size, settings)
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew while we looked
        raise _too_big(str(path), len(data), settings)
    original: str | None = None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        shown = redact(text, secrets_of(settings)).encode()
        if shown != data:
            original, data = hashlib.sha256(data).hexdigest(), shown
    return Gathered(
        name=safe_name(name or path.name),
        data=data,
        source=f"file {path}",
        level=level,
        kind="file",
        note=note,
        original_sha256=original,
    )


def command_text(record: CommandRecord) -> str:
    """A command's receipt: the argv, its exit code and time, then what it printed."""
    outcome = f"exit code: {record.exit_code}"
    if record.timed_out:
        outcome += " (cut at its deadline)"
    if record.error:
        outcome += f"  error: {record.error}"
    return (
        f"$ {' '.join(record.argv)}\n"
        f"# {outcome}  started: {isoformat(record.started_at)}  "
        f"duration: {record.duration_s} s\n"
        f"# stdout\n{record.stdout}\n# stderr\n{record.stderr}\n"
    )


def run_command(
    argv: list[str], *, timeout_s: float, max_bytes: int, secrets: list[str], cwd: Path | None
) -> tuple[CommandRecord, bytes, bool]:
    """Run ``argv`` (no shell) to its deadline; its receipt redacted and clipped."""
    record = run_argv(argv, timeout_s=timeout_s, cwd=cwd, secrets=secrets)
    data, clipped = clip(command_text(record).encode(), max_bytes)
    return record, data, clipped


def fetch_url(
    url: str, *, timeout_s: float, max_bytes: int, secrets: list[str]
) -> tuple[int | None, bytes, bool]:
    """GET ``url`` within ``timeout_s`` (redirects not followed), reading at most ``max_bytes``.

    Returns the exit code as for a command (0 for a 2xx or 3xx answer, 1 otherwise, ``None``
    when no answer came), the receipt (redacted, clipped) and whether it was clipped.
    """
    started, clock = utcnow(), time.monotonic()
    body = bytearray()
    more = False
    status: int | None = None
    error: str | None = None
    deadline = clock + timeout_s
    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=False) as client,
            client.stream("GET", url) as answer,
        ):
            status = answer.status_code
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    more = True
                    break
                if time.monotonic() > deadline:
                    error = f"cut at its deadline of {timeout_s:g} s"
                    break
    except httpx.TimeoutException:
        error = f"no answer within {timeout_s:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    code = None if status is None else (0 if status < 400 else 1)
    header = (
        f"# GET {url}\n# HTTP {status if status is not None else '-'}"
        + (f"  error: {error}" if error else "")
        + f"  started: {isoformat(started)}  duration: {round(time.monotonic() - clock, 4)} s\n"
    )
    text = header + bytes(body).decode("utf-8", "replace")
    data, clipped = clip(redact(text, secrets, cut=more).encode(), max_bytes)
    return code, data, clipped or more
