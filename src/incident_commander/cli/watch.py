"""``ic watch``: extended monitoring in the foreground, for a team without ``ic serve``."""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer
from rich.markup import escape

from incident_commander.cli.render import console, print_json
from incident_commander.watch.extended import Watcher

__all__ = ["register"]


def _show(found: dict[str, Any]) -> None:
    mark = "[green]passed[/]" if found["status"] == "passed" else "[red]FAILED[/]"
    console.print(
        f"{escape(found['incident_id'])} checkpoint {found['n']} ({escape(found['phase'])}): "
        f"{mark} — {escape(found.get('summary', ''))}"
    )


def register(app: typer.Typer) -> None:
    """Add ``watch`` to ``app``."""

    @app.command()
    def watch(
        ctx: typer.Context,
        once: Annotated[
            bool, typer.Option(help="Run what is due now, then stop (for cron or a test).")
        ] = False,
        every: Annotated[
            float | None, typer.Option(help="Seconds between looks (default: from ic.yaml).")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Run extended-monitoring checkpoints as they fall due; a failed one reopens."""
        engine = ctx.obj.commander().engine
        watcher = Watcher(engine, interval=every, on_checkpoint=None if json_out else _show)
        if once:
            ran = watcher.run_once()
            if json_out:
                print_json(ran)
            elif not ran:
                console.print("No checkpoint is due.")
            return
        console.print(f"Watching; a look every {watcher.interval:g} s. Ctrl-C stops.")
        # SIGTERM (a service manager stopping it) ends the loop between looks, so the messages
        # of the last look are still delivered as the command exits.
        signal.signal(signal.SIGTERM, lambda *_: watcher.stopping.set())
        try:
            watcher.run()
        except KeyboardInterrupt:
            pass
        console.print("Stopped.")
