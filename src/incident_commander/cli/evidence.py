"""``ic gate check``, ``ic evidence verify``, ``ic evidence add`` and ``ic diagnose``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from incident_commander.cli.answers import IncidentId, me
from incident_commander.cli.gather import gather_inputs, print_inputs
from incident_commander.cli.render import console, print_gates, print_json
from incident_commander.protocol.gates import run_gates

__all__ = ["register"]

AddedBy = Annotated[str | None, typer.Option("--as", help="Who adds it (a person's name).")]


def register(app: typer.Typer) -> None:
    """Add the ``gate`` and ``evidence`` groups and ``diagnose`` to ``app``."""
    gate_app = typer.Typer(help="Quality gates over an incident's evidence.", no_args_is_help=True)
    evidence_app = typer.Typer(help="The evidence folder.", no_args_is_help=True)
    app.add_typer(gate_app, name="gate")
    app.add_typer(evidence_app, name="evidence")

    @gate_app.command("check")
    def check(
        ctx: typer.Context,
        incident_id: Annotated[str, typer.Argument(help="The incident id.")],
        gate: Annotated[str, typer.Option(help="prerequisites, 1, 2, 3, 4 or all.")] = "all",
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
        sla: Annotated[
            float | None, typer.Option(help="Severity confirmation SLA in minutes (gate 1).")
        ] = None,
        threshold: Annotated[
            float | None,
            typer.Option(
                help="Pass threshold 0-1 for critical checks (gate 3) and completeness (gate 4)."
            ),
        ] = None,
    ) -> None:
        """Run one gate or all; exit 0 when every one passes, 1 otherwise."""
        engine = ctx.obj.commander().engine
        record = engine.record(incident_id)
        results = run_gates(gate, record, engine, sla_minutes=sla, threshold=threshold)
        if json_out:
            print_json(
                {
                    "incident_id": incident_id,
                    "passed": all(r.passed for r in results),
                    "gates": [r.model_dump() for r in results],
                }
            )
        else:
            print_gates(results)
        if not all(r.passed for r in results):
            raise typer.Exit(1)

    @evidence_app.command("verify")
    def verify_command(
        ctx: typer.Context,
        incident_id: Annotated[str, typer.Argument(help="The incident id.")],
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Check the chain, the sealed content, the head log and every file; exit 0 if all match."""
        result = ctx.obj.commander().engine.verify(incident_id)
        if json_out:
            print_json(
                {
                    "incident_id": incident_id,
                    "ok": result.ok,
                    "events": result.events,
                    "files": result.files,
                    "problems": result.problems,
                    "notes": result.notes,
                }
            )
        elif result.ok:
            console.print(
                f"[green]OK[/] {incident_id}: {result.events} timeline events chain "
                f"correctly; {result.files} files match their recorded hashes."
            )
        else:
            console.print(f"[red]BROKEN[/] {incident_id}: {escape(result.problems[0])}")
            for problem in result.problems[1:]:
                console.print(f"  also: {escape(problem)}")
        if not json_out:
            for note in result.notes:
                console.print(f"[yellow]note[/]: {escape(note)}")
        if not result.ok:
            raise typer.Exit(6)

    @evidence_app.command("add")
    def add_command(
        ctx: typer.Context,
        incident_id: IncidentId,
        items: Annotated[
            list[str] | None,
            typer.Argument(help="Files to archive; with --command, the command's argv."),
        ] = None,
        command: Annotated[
            bool, typer.Option("--command", help="Run the argv after `--` and archive its output.")
        ] = False,
        url: Annotated[str | None, typer.Option(help="Fetch this page and archive it.")] = None,
        level: Annotated[
            str | None,
            typer.Option(help="physics, receipts, artifacts or narrative (default by source)."),
        ] = None,
        note: Annotated[str | None, typer.Option(help="Why this input matters.")] = None,
        name: Annotated[str | None, typer.Option(help="The archived file's name.")] = None,
        timeout: Annotated[
            float | None, typer.Option(help="Seconds a command or a fetch may take.")
        ] = None,
        by: AddedBy = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Archive files, a command's output or a page into root-cause-inputs/, sealed."""
        commander = ctx.obj.commander()
        commander.engine.record(incident_id)  # an unknown incident is refused before any work
        found = gather_inputs(
            commander.settings,
            items or [],
            command=command,
            url=url,
            level=level,
            note=note,
            name=name,
            timeout=timeout,
        )
        entries = commander.engine.add_evidence(incident_id, found, added_by=by or me())
        if json_out:
            print_json({"incident_id": incident_id, "inputs": entries})
        else:
            print_inputs(incident_id, entries)

    @app.command("diagnose")
    def diagnose_command(
        ctx: typer.Context,
        incident_id: IncidentId,
        by: AddedBy = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Run the service's diagnostics now; archive each output as a receipt."""
        engine = ctx.obj.commander().engine
        entries = engine.diagnose(incident_id, by=by or me())
        if json_out:
            print_json({"incident_id": incident_id, "inputs": entries})
        elif entries:
            print_inputs(incident_id, entries)
        else:
            service = engine.record(incident_id).incident.service
            console.print(
                f"Nothing to run: ic.yaml gives {escape(service)} no diagnostics "
                f"(services.{escape(service)}.diagnostics) and no git deploy directory."
            )
