"""``ic executors``: what can mitigate, and ``ic executors check``: would it run now?"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from incident_commander.cli.render import console, print_json

__all__ = ["register"]

Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _installed_table(found: list[dict[str, Any]]) -> Table:
    table = Table(title="Installed executors", title_justify="left")
    table.add_column("kind", no_wrap=True)
    for column in ("title", "what it needs", "dry run", "config keys"):
        table.add_column(column)
    for executor in found:
        required = ", ".join(executor["required_fields"]) or "-"
        table.add_row(
            executor["kind"],
            escape(executor["title"]),
            escape("; ".join(executor["needs"]) or "-"),
            "yes" if executor["dry_run"] else "no",
            escape(f"required: {required}"),
        )
    return table


def _print_check(report: list[dict[str, Any]]) -> None:
    for service in report:
        target = service["last_known_good"] or "none recorded"
        console.print(f"[bold]{escape(service['service'])}[/] (last known good: {escape(target)})")
        if not service["options"]:
            console.print("  no rollback option is configured")
        for item in service["shared_items"]:
            mark = "ok  " if item["passed"] else "FAIL"
            console.print(f"  {mark} {escape(item['item'])}: {escape(item['detail'])}")
        for option in service["options"]:
            verdict = "[green]ready[/]" if option["ready"] else "[red]NOT READY[/]"
            console.print(
                f"  {escape(option['name'])} ({escape(option['kind'])}, {option['purpose']}): "
                + verdict
            )
            for item in option["items"]:
                mark = "ok  " if item["passed"] else "FAIL"
                console.print(f"    {mark} {escape(item['item'])}: {escape(item['detail'])}")


def register(app: typer.Typer) -> None:
    """Add the ``executors`` group to ``app``."""
    executors_app = typer.Typer(
        help="Mitigation executors: list them, check configured options now.",
        invoke_without_command=True,
    )
    app.add_typer(executors_app, name="executors")

    @executors_app.callback()
    def executors(ctx: typer.Context, json_out: Json = False) -> None:
        """List every installed executor with what it needs."""
        if ctx.invoked_subcommand is not None:
            return
        found = ctx.obj.commander().engine.executors()
        if json_out:
            print_json(found)
        else:
            console.print(_installed_table(found))

    @executors_app.command("check")
    def check(
        ctx: typer.Context,
        service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
        json_out: Json = False,
    ) -> None:
        """Run the readiness checklist of every configured option now; exit 1 if one is not
        ready."""
        report = ctx.obj.commander().engine.check_options(service)
        if json_out:
            print_json(report)
        else:
            _print_check(report)
        if any(not option["ready"] for entry in report for option in entry["options"]):
            raise typer.Exit(1)
