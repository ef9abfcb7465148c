"""``ic demo``: the whole incident, from a bad deploy to a verified recovery."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from incident_commander.cli.render import console, err, print_event, print_json
from incident_commander.errors import InvalidInput

__all__ = ["explore_hint", "ic_command", "register"]


def ic_command() -> str:
    """How to run ``ic`` from any shell: the script beside this interpreter, else ``-m``."""
    script = Path(sys.executable).parent / "ic"
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m incident_commander"


def explore_hint(workdir: str, incident_id: str) -> str:
    """The closing line of the demo: a command that works as printed, venv active or not."""
    return f"Explore it: cd {shlex.quote(workdir)} && {ic_command()} show {incident_id}"


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title="Incident summary", show_header=False)
    rows = [
        ("Incident", summary["incident_id"]),
        ("Status", summary["status"]),
        ("Severity", summary["severity"]),
        ("Suspect deploy", summary["suspect_deploy"]),
        (
            "Action",
            f"{summary['action']}: {summary['release_before']} → {summary['release_after']}",
        ),
        ("First failing probe → detected", f"{summary['time_to_detect_s']} s"),
        ("First failing probe → rollback done", f"{summary['time_to_mitigate_s']} s"),
        ("First failing probe → recovery verified", f"{summary['time_to_recover_s']} s"),
        ("Engine overhead (threshold → rollback start)", f"{summary['engine_overhead_ms']} ms"),
        (
            "Gates",
            ", ".join(f"{g}: {'pass' if p else 'FAIL'}" for g, p in summary["gates"].items()),
        ),
        ("Evidence", summary["evidence_dir"]),
    ]
    for name, value in rows:
        table.add_row(name, escape(str(value)))
    console.print(table)
    if summary["needs"]:
        console.print(f"Stopped: {escape(summary['needs'])}")
    console.print(escape(explore_hint(summary["workdir"], summary["incident_id"])), soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""

    @app.command()
    def demo(
        workdir: Annotated[
            Path,
            typer.Option(help="Folder for the demo's service, ic.yaml, database and evidence."),
        ] = Path("ic-demo"),
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
        by_hand: Annotated[
            bool,
            typer.Option(
                "--by-hand", help="Only set up: bad release live, no policies; you run the steps."
            ),
        ] = False,
        stop: Annotated[
            bool, typer.Option("--stop", help="Stop the demo service of --workdir.")
        ] = False,
        force: Annotated[
            bool,
            typer.Option("--force", help="Replace a --workdir holding incidents made by hand."),
        ] = False,
        scenario: Annotated[
            str,
            typer.Option(help="What breaks: bad-deploy, bad-flag or bad-migration."),
        ] = "bad-deploy",
        notify_smtp: Annotated[
            str | None,
            typer.Option(
                "--notify-smtp",
                metavar="HOST:PORT",
                help="E-mail the stakeholders' messages through this SMTP server "
                "(default: print them on the console).",
            ),
        ] = None,
    ) -> None:
        """Run the demo incident on a real local service.

        Exit 0 only if the service recovered and every gate passed.
        """
        from incident_commander.demo.scenario import (
            demo_channels,
            run_demo,
            setup_by_hand,
            stop_service,
        )

        demo_channels(notify_smtp)  # a malformed HOST:PORT is refused before anything starts

        if stop:
            stopped = stop_service(workdir)
            console.print(
                "Demo service stopped." if stopped else "The demo service was not running."
            )
            return
        if by_hand:
            if scenario != "bad-deploy":
                raise InvalidInput("--by-hand sets up the bad-deploy scenario only")
            ready = setup_by_hand(workdir, force=force)
            if json_out:
                print_json(ready)
                return
            console.print(
                f"Set up {escape(ready['workdir'])}: {ready['service']} runs the bad release v2 "
                f"at {ready['url']}; deploys v1 and v2 are recorded; there are no policies, so "
                "every approval is yours. Next, in that folder: ic declare --help. "
                "When done: ic demo --workdir . --stop"
            )
            return

        def say(kind: str, text: str) -> None:
            err.print(f"[dim]demo:[/] {escape(text)}")

        summary = run_demo(
            workdir,
            on_event=print_event,
            say=say,
            force=force,
            scenario=scenario,
            notify_smtp=notify_smtp,
        )
        if json_out:
            print_json(summary)
        else:
            _print_summary(summary)
        if not (summary["recovered"] and all(summary["gates"].values())):
            raise typer.Exit(1)
