"""``ic demo``: the whole incident, from a bad deploy to a verified recovery."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from incident_commander.cli.render import console, err, print_event, print_json

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""

    @app.command()
    def demo(
        workdir: Annotated[
            Path,
            typer.Option(help="Folder for the demo's service, ic.yaml, database and evidence."),
        ] = Path("ic-demo"),
        json_out: Annotated[
            bool, typer.Option("--json", help="Print the summary as JSON.")
        ] = False,
    ) -> None:
        """Run the demo incident on a real local service.

        Exit 0 only if the service recovered and every gate passed.
        """
        from incident_commander.demo.scenario import run_demo

        def say(kind: str, text: str) -> None:
            err.print(f"[dim]demo:[/] {escape(text)}")

        summary = run_demo(workdir, on_event=print_event, say=say)
        ok = summary["recovered"] and all(summary["gates"].values())
        if json_out:
            print_json(summary)
        else:
            table = Table(title="Incident summary", show_header=False)
            rows = [
                ("Incident", summary["incident_id"]),
                ("Status", summary["status"]),
                ("Severity", summary["severity"]),
                ("Suspect deploy", summary["suspect_deploy"]),
                (
                    "Action",
                    f"{summary['action']}: {summary['release_before']} → "
                    f"{summary['release_after']}",
                ),
                ("First failing probe → detected", f"{summary['time_to_detect_s']} s"),
                ("First failing probe → rollback done", f"{summary['time_to_mitigate_s']} s"),
                ("First failing probe → recovery verified", f"{summary['time_to_recover_s']} s"),
                (
                    "Engine overhead (threshold → rollback start)",
                    f"{summary['engine_overhead_ms']} ms",
                ),
                (
                    "Gates",
                    ", ".join(
                        f"{g}: {'pass' if p else 'FAIL'}" for g, p in summary["gates"].items()
                    ),
                ),
                ("Evidence", summary["evidence_dir"]),
            ]
            for name, value in rows:
                table.add_row(name, escape(str(value)))
            console.print(table)
            if summary["needs"]:
                console.print(f"Stopped: {escape(summary['needs'])}")
            console.print(
                f"Explore it: cd {escape(summary['workdir'])} && ic show {summary['incident_id']}"
            )
        if not ok:
            raise typer.Exit(1)
