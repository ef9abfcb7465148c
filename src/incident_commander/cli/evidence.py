"""``ic gate check`` and ``ic evidence verify``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from incident_commander.cli.render import console, print_gates, print_json
from incident_commander.protocol.gates import run_gates

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``gate`` and ``evidence`` groups to ``app``."""
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
