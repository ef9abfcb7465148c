"""``ic notify``: a manual update to an audience, and ``ic notify test`` for a channel."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from incident_commander.cli.answers import IncidentId, me
from incident_commander.cli.render import console, err, print_json
from incident_commander.config import load_settings
from incident_commander.errors import InvalidInput

__all__ = ["register"]


class _UpdateOrTest(TyperGroup):
    """``ic notify test …`` is the test; anything else (``ic notify ID …``) is an update."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            name, command, _ = super().resolve_command(ctx, ["update"])
            return name, command, args
        return super().resolve_command(ctx, args)


def register(app: typer.Typer) -> None:
    """Add ``notify`` (``ic notify ID …`` and ``ic notify test …``) to ``app``."""
    notify_app = typer.Typer(
        cls=_UpdateOrTest,
        help="Send an update to an audience (ic notify ID --audience A --message TEXT), "
        "or a test message (ic notify test --channel NAME|URL).",
        no_args_is_help=True,
    )
    app.add_typer(notify_app, name="notify")

    @notify_app.command("update")
    def update(
        ctx: typer.Context,
        incident_id: IncidentId,
        audience: Annotated[str, typer.Option(help="Who hears it: an audience of ic.yaml.")],
        message: Annotated[str, typer.Option(help="The words of the update.")],
        public: Annotated[
            bool, typer.Option("--public", help="Written for the public (a status update).")
        ] = False,
        author: Annotated[str | None, typer.Option("--as", help="Who writes it.")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Send a manual update about an incident; exit 1 if no channel delivered it."""
        sent = ctx.obj.commander().engine.announce(
            incident_id, audience=audience, text=message, public=public, by=author or me()
        )
        if json_out:
            print_json({"incident_id": incident_id, "deliveries": [vars(d) for d in sent]})
        else:
            for d in sent:
                status = "delivered" if d.status == "sent" else d.status
                console.print(
                    f"{escape(d.channel)} ({escape(d.audience)}): {status}: {escape(d.detail)}",
                    highlight=False,
                )
        if not any(d.status == "sent" for d in sent):
            raise typer.Exit(1)

    @notify_app.command("test")
    def test(
        ctx: typer.Context,
        channel: Annotated[
            str, typer.Option(help="A channel name from ic.yaml, or an Apprise URL.")
        ],
    ) -> None:
        """Send a test message now and say whether it arrived; exit 1 if it did not."""
        from incident_commander.notify.trial import channel_for, send_test

        settings = load_settings(ctx.obj.config)
        try:
            target = channel_for(settings.notifications, channel, settings.base_dir)
        except (LookupError, ValueError) as exc:
            raise InvalidInput(str(exc)) from None
        delivery = send_test(target)
        where = f"{target.name} ({target.target()})"
        if delivery.ok:
            console.print(f"Delivered to {escape(where)}: {escape(delivery.detail)}")
            return
        err.print(f"[bold red]Not delivered[/] to {escape(where)}: {escape(delivery.detail)}")
        raise typer.Exit(1)
