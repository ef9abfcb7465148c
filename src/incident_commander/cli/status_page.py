"""``ic status-page build``: the public status page as static files, for any web server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from incident_commander.cli.render import console, print_json
from incident_commander.errors import InvalidInput

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``status-page`` (``ic status-page build --out DIR``) to ``app``."""
    status_app = typer.Typer(
        help="The public status page: only what was written for the public.",
        no_args_is_help=True,
    )
    app.add_typer(status_app, name="status-page")

    @status_app.command("build")
    def build(
        ctx: typer.Context,
        out: Annotated[
            Path, typer.Option(help="The folder to write index.html and status.json into.")
        ],
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Write the status page (index.html) and its content (status.json) into a folder."""
        from incident_commander.reports.status_page import build_status, write_site

        commander = ctx.obj.commander()
        status = build_status(commander.store, commander.settings)
        try:
            written = write_site(out, status)
        except OSError as exc:
            raise InvalidInput(
                f"cannot write the status page into {out}: {exc.strerror or exc}",
                hint="give an --out folder you can write to",
            ) from None
        if json_out:
            print_json({"written": [str(p) for p in written], **status})
            return
        console.print(
            f"Wrote {escape(str(written[0]))} and {escape(str(written[1]))}: "
            f"{len(status['services'])} service(s), {escape(status['summary'].lower())}, "
            f"{len(status['history'])} past incident(s) in {status['history_days']} days.",
            highlight=False,
        )
