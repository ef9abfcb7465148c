"""``ic``: the command-line door. Errors become one clear line and an exit code."""

from __future__ import annotations

import sys
from functools import cache
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from incident_commander import __version__
from incident_commander.app import Commander
from incident_commander.errors import ICError
from incident_commander.protocol.engine import EventListener

__all__ = ["app", "run"]

err = Console(stderr=True)
EXIT_INTERNAL = 70


class _Door(TyperGroup):
    """The ``ic`` group: a user error becomes one message and its exit code, never a traceback.

    Handled here rather than around ``app()`` so that every way of calling the app (the console
    script, Typer's test runner) reports user errors the same way.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ICError as exc:
            err.print(f"[bold red]Error:[/] {escape(exc.message)}", highlight=False)
            if exc.hint:
                err.print(f"Hint: {exc.hint}", highlight=False, markup=False)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Door,
    name="ic",
    help="Incident Commander: detect, assess, approve, roll back, verify, and keep the record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class State:
    """Options shared by every command."""

    def __init__(self, config: str | None) -> None:
        self.config = config
        self._commander: Commander | None = None

    def commander(self, on_event: EventListener | None = None) -> Commander:
        """The commander of this invocation; events are shown as ``print_event`` unless told."""
        if self._commander is None:
            from incident_commander.cli.render import print_event

            self._commander = Commander.from_config(self.config, on_event=on_event or print_event)
        return self._commander

    def close(self) -> None:
        """At the end of the command: deliver queued notifications, release the store."""
        if self._commander is not None:
            self._commander.close()
            self._commander = None


def _version(value: bool) -> None:
    if value:
        print(f"ic {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Path to ic.yaml (default: ./ic.yaml or $IC_CONFIG)."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Incident Commander."""
    ctx.obj = State(config)
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    from incident_commander.cli import (
        actions,
        answers,
        demo,
        evidence,
        executors,
        incidents,
        insights,
        learn,
        listing,
        notify,
        postmortem,
        serve,
        setup,
        status_page,
        watch,
    )

    setup.register(app)
    incidents.register(app)
    postmortem.register(app)
    actions.register(app)
    answers.register(app)
    listing.register(app)
    notify.register(app)
    evidence.register(app)
    executors.register(app)
    learn.register(app)
    serve.register(app)
    insights.register(app)
    demo.register(app)
    watch.register(app)
    status_page.register(app)


_register()


@cache
def command() -> _Door:
    """The app as one click group, built once per process (Typer builds it anew per call)."""
    group = typer.main.get_command(app)
    assert isinstance(group, _Door)
    return group


def run() -> None:
    """Console-script entry: run the app; user errors are reported by ``_Door``."""
    try:
        command()()
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)
    except Exception as exc:  # the last guard: a bug must still not show a traceback
        err.print(
            f"[bold red]Internal error:[/] {type(exc).__name__}: {escape(str(exc)[:300])}. "
            "The store and evidence are unchanged beyond the last completed step.",
            highlight=False,
        )
        sys.exit(EXIT_INTERNAL)
