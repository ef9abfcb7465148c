"""Reading incidents: ``list``, ``show`` and ``report``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from incident_commander.cli.answers import IncidentId
from incident_commander.cli.insights import print_similar
from incident_commander.cli.postmortem import print_postmortem_state
from incident_commander.cli.render import console, print_json, print_record
from incident_commander.errors import InvalidInput
from incident_commander.insights.similar import find_similar
from incident_commander.protocol.states import Status
from incident_commander.views import incident_row, incident_view

__all__ = ["register"]

Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _one_of(what: str, value: str | None, known: list[str]) -> None:
    if value is not None and value not in known:
        raise InvalidInput(f"unknown {what} {value!r} (one of: {', '.join(known)})")


def register(app: typer.Typer) -> None:
    """Add ``list``, ``show`` and ``report`` to ``app``."""

    @app.command("list")
    def list_incidents(
        ctx: typer.Context,
        status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
        service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
        severity: Annotated[str | None, typer.Option(help="Only this severity.")] = None,
        json_out: Json = False,
    ) -> None:
        """List incidents, newest first."""
        from rich.table import Table

        _one_of("status", status, [s.value for s in Status])
        engine = ctx.obj.commander().engine
        _one_of("severity", severity, engine.settings.scheme.names)
        rows = engine.list_incidents(status=status, service=service, severity=severity)
        data: list[dict[str, Any]] = [incident_row(r) for r in rows]
        if json_out:
            print_json(data)
            return
        table = Table("id", "status", "severity", "service", "title", "detected (UTC)")
        for row in data:
            table.add_row(
                *(
                    escape(str(row[k] or "—"))
                    for k in ("id", "status", "severity", "service", "title", "detected_at")
                )
            )
        console.print(table if data else "No incidents.")

    @app.command()
    def show(ctx: typer.Context, incident_id: IncidentId, json_out: Json = False) -> None:
        """Show an incident: status, severity, what it waits for, its timeline, similar ones."""
        engine = ctx.obj.commander().engine
        if json_out:
            print_json(incident_view(engine, incident_id))
            return
        print_record(engine.record(incident_id), engine.pending_prompt(incident_id))
        print_postmortem_state(engine.postmortem_state(incident_id))
        print_similar(find_similar(engine.store, incident_id, limit=3))

    @app.command()
    def report(ctx: typer.Context, incident_id: IncidentId) -> None:
        """(Re)write INCIDENT-REPORT.md from what was recorded."""
        console.print(str(ctx.obj.commander().engine.report(incident_id)))
