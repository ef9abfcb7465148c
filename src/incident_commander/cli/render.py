"""Rich rendering shared by the commands: live events, incident views, gate results."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from incident_commander.clock import isoformat, utcnow
from incident_commander.evidence.record import IncidentRecord
from incident_commander.protocol.gates import GateResult

__all__ = [
    "console",
    "err",
    "log_event",
    "print_event",
    "print_gates",
    "print_json",
    "print_record",
]

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

STYLE = {
    "phase": "bold cyan",
    "alert": "bold yellow",
    "error": "bold red",
    "approval.asked": "bold magenta",
    "approval.answered": "magenta",
    "automation": "green",
    "status": "dim",
    "notification.sent": "dim",
    "notification.failed": "red",
    "halted": "bold red",
}


def print_event(incident_id: str, kind: str, text: str) -> None:
    """Show an engine event as it is committed (on stderr, so stdout stays parseable).

    A command works on one incident at a time, so its id is not repeated on every line.
    """
    style = STYLE.get(kind, "")
    body = escape(text)
    if kind in ("phase", "alert", "error", "automation") or text.startswith("["):
        err.print(f"[{style}]{body}[/]" if style else body)
    else:
        err.print(f"  [{style or 'default'}]{escape(kind)}[/]: {body}")


def log_event(incident_id: str, kind: str, text: str) -> None:
    """One plain line per engine event for a server's log: time, incident, kind, text."""
    stamp = isoformat(utcnow())
    sys.stderr.write(f"{stamp} {incident_id} {kind}: {' '.join(text.split())}\n")


def print_json(data: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_record(record: IncidentRecord, pending_prompt: str | None) -> None:
    """A readable view of one incident: status, severity, what it waits for, timeline."""
    inc = record.incident
    head = Table.grid(padding=(0, 2))
    head.add_row("Incident", f"[bold]{escape(inc.id)}[/] — {escape(inc.title)}")
    head.add_row("Service", escape(inc.service))
    head.add_row("Status", f"[bold]{inc.status}[/]")
    confirmed = "confirmed" if inc.severity_confirmed else "not confirmed"
    head.add_row("Severity", f"{inc.severity or '—'} ({confirmed})")
    if record.suspect_deploy:
        head.add_row("Suspect deploy", escape(record.suspect_deploy.version))
    if inc.halt_reason:
        head.add_row("Halted", f"[red]{escape(inc.halt_reason)}[/]")
    if pending_prompt:
        head.add_row("Waiting for", f"[magenta]{escape(pending_prompt)}[/]")
    points = (inc.resolution or {}).get("checkpoints") or []
    if points:
        done = sum(1 for p in points if p.get("status") == "passed")
        upcoming = next((p for p in points if p.get("status") in ("due", "running")), None)
        head.add_row(
            "Watching",
            f"{done}/{len(points)} checkpoints passed"
            + (f"; next {escape(upcoming['phase'])} at {upcoming['due']}" if upcoming else ""),
        )
    console.print(head)
    table = Table("#", "time (UTC)", "event", "detail", show_lines=False)
    for ev in record.events:
        table.add_row(str(ev.seq), isoformat(ev.at) or "", escape(ev.kind), escape(ev.message))
    console.print(table)


def print_gates(results: list[GateResult]) -> None:
    """Each gate with its criteria; failures say what was found and what to do."""
    for result in results:
        mark = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
        console.print(f"{mark} {escape(result.title)}")
        for c in result.criteria:
            tick = "[green]✓[/]" if c.passed else "[red]✗[/]"
            console.print(f"   {tick} {escape(c.criterion)} — {escape(c.found)}")
        for note in result.notes:
            console.print(f"   · {escape(note)}")
        if not result.passed:
            console.print(f"   Next: {escape(result.next_step)}")
