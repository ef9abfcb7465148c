"""``ic action add|list|done``: the action items of post-incident reviews; ``ic retro``: the
retrospective of one incident."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.markup import escape

from incident_commander.cli.answers import As, IncidentId, me
from incident_commander.cli.render import console, print_json
from incident_commander.errors import InvalidInput
from incident_commander.store.action_items import KINDS, PRIORITIES

__all__ = ["register"]

Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"--due {value!r}: expected a date as YYYY-MM-DD") from None


def _one_of(option: str, value: str, known: tuple[str, ...]) -> str:
    if value not in known:
        raise InvalidInput(f"{option} {value!r}: expected one of {', '.join(known)}")
    return value


def _print_items(items: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not items:
        console.print("No action items.")
        return
    table = Table("#", "incident", "action", "owner", "due", "kind", "priority", "status")
    for item in items:
        status = item["status"] + (" (OVERDUE)" if item["overdue"] else "")
        table.add_row(
            str(item["n"]),
            escape(item["incident_id"]),
            escape(item["title"]),
            escape(item["owner"]),
            item["due"],
            item["kind"],
            item["priority"],
            status,
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``action`` (add, list, done) and ``retro`` to ``app``."""
    action = typer.Typer(
        help="Action items of post-incident reviews: add, list, mark done.",
        no_args_is_help=True,
    )
    app.add_typer(action, name="action")

    @action.command("add")
    def add(
        ctx: typer.Context,
        incident_id: IncidentId,
        title: Annotated[str, typer.Option(help="What will be done.")],
        owner: Annotated[str, typer.Option(help="Who owns it (a person or a team).")],
        due: Annotated[str, typer.Option(help="Due date, YYYY-MM-DD.")],
        priority: Annotated[str, typer.Option(help=f"One of {', '.join(PRIORITIES)}.")] = "medium",
        kind: Annotated[str, typer.Option(help=f"One of {', '.join(KINDS)}.")] = "prevention",
        approver: As = None,
        json_out: Json = False,
    ) -> None:
        """Add an action item with an owner and a due date to an incident."""
        when = _date(due)
        _one_of("--kind", kind, KINDS)
        _one_of("--priority", priority, PRIORITIES)
        if not title.strip() or not owner.strip():
            raise InvalidInput("--title and --owner must not be empty")
        n = ctx.obj.commander().engine.add_action(
            incident_id,
            title=title,
            owner=owner,
            due=when,
            kind=kind,
            priority=priority,
            by=approver or me(),
        )
        if json_out:
            print_json({"n": n, "incident_id": incident_id})
        else:
            console.print(f"Added action item #{n} to {incident_id}.")

    @action.command("list")
    def list_items(
        ctx: typer.Context,
        incident_id: Annotated[
            str | None, typer.Argument(help="Only this incident's items.")
        ] = None,
        overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue items.")] = False,
        owner: Annotated[str | None, typer.Option(help="Only this owner's items.")] = None,
        json_out: Json = False,
    ) -> None:
        """List action items, oldest first; overdue ones are marked."""
        items = ctx.obj.commander().engine.actions(incident_id, owner=owner, overdue=overdue)
        if json_out:
            print_json(items)
        else:
            _print_items(items)

    @action.command("done")
    def done(
        ctx: typer.Context,
        n: Annotated[int, typer.Argument(help="The action item's number.")],
        note: Annotated[str | None, typer.Option(help="What was done.")] = None,
        approver: As = None,
        json_out: Json = False,
    ) -> None:
        """Mark an action item done, with an optional note."""
        item = ctx.obj.commander().engine.finish_action(n, note=note, by=approver or me())
        if json_out:
            print_json(item)
        else:
            console.print(f"Action item #{n} done: {escape(item['title'])}")

    @app.command()
    def retro(ctx: typer.Context, incident_id: IncidentId) -> None:
        """Write retrospective.md into the incident folder: highlights, gates, changes."""
        console.print(str(ctx.obj.commander().engine.retro(incident_id)))
