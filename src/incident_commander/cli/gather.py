"""Gathering what ``ic evidence add`` archives, before the store is touched, and showing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape

from incident_commander.cli.render import console
from incident_commander.config import Settings
from incident_commander.config_evidence import EVIDENCE_LEVELS, EvidenceLevel
from incident_commander.errors import InvalidInput
from incident_commander.evidence.inputs import (
    Gathered,
    fetch_url,
    read_file,
    run_command,
    safe_name,
    secrets_of,
)

__all__ = ["gather_inputs", "print_inputs"]


def _level(level: str | None, default: EvidenceLevel) -> EvidenceLevel:
    if level is None:
        return default
    for known in EVIDENCE_LEVELS:
        if level == known:
            return known
    raise InvalidInput(f"unknown evidence level {level!r} (one of: {', '.join(EVIDENCE_LEVELS)})")


def _command(argv: list[str], settings: Settings, level: EvidenceLevel, **given: Any) -> Gathered:
    record, data, clipped = run_command(
        argv,
        timeout_s=given["timeout"] or settings.evidence.command_timeout_seconds,
        max_bytes=settings.evidence.max_input_bytes,
        secrets=secrets_of(settings),
        cwd=Path.cwd(),
    )
    return Gathered(
        name=safe_name(given["name"] or f"command-{Path(argv[0]).name}.log"),
        data=data,
        source=f"command: {' '.join(record.argv)}",
        level=level,
        kind="command",
        at=record.started_at,
        exit_code=record.exit_code,
        timed_out=record.timed_out,
        note=given["note"],
        clipped=clipped,
    )


def _page(url: str, settings: Settings, level: EvidenceLevel, **given: Any) -> Gathered:
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"--url {url!r}: only http:// and https:// pages can be fetched")
    code, data, clipped = fetch_url(
        url,
        timeout_s=given["timeout"] or settings.evidence.url_timeout_seconds,
        max_bytes=settings.evidence.max_input_bytes,
        secrets=secrets_of(settings),
    )
    host = url.split("://", 1)[1].split("/", 1)[0]
    return Gathered(
        name=safe_name(given["name"] or f"page-{host}.txt"),
        data=data,
        source=f"GET {url}",
        level=level,
        kind="url",
        exit_code=code,
        note=given["note"],
        clipped=clipped,
    )


def gather_inputs(
    settings: Settings,
    items: list[str],
    *,
    command: bool,
    url: str | None,
    level: str | None,
    note: str | None,
    name: str | None,
    timeout: float | None,
) -> list[Gathered]:
    """Read the files, run the command or fetch the page; every file checked before any is kept."""
    if timeout is not None and timeout <= 0:
        raise InvalidInput("--timeout must be more than 0 seconds")
    given = {"note": note, "name": name, "timeout": timeout}
    if url is not None:
        if items or command:
            raise InvalidInput("--url takes no files and no --command; give one source at a time")
        return [_page(url, settings, _level(level, "receipts"), **given)]
    if not items:
        raise InvalidInput("give files to archive, --command -- ARGV…, or --url URL")
    if command:
        return [_command(items, settings, _level(level, "receipts"), **given)]
    if name is not None and len(items) > 1:
        raise InvalidInput("--name names one file; give one file with it")
    chosen = _level(level, "artifacts")
    return [read_file(Path(item), settings, level=chosen, note=note, name=name) for item in items]


def print_inputs(incident_id: str, entries: list[dict[str, Any]]) -> None:
    """One line per archived input."""
    for entry in entries:
        code = entry.get("exit_code")
        outcome = f", exit code {code}" if code is not None else ""
        clipped = ", clipped" if entry.get("clipped") else ""
        console.print(
            f"Archived {escape(entry['path'])} for {incident_id} ({entry['evidence_level']}, "
            f"{entry['size']} bytes{outcome}{clipped}), sha256 {entry['sha256'][:16]}…"
        )
