"""Answering the approval prompts: ``approve``, ``resolve``, ``close``, ``dismiss``, and the
``--yes``/``--no`` flags the step commands share."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.markup import escape

from incident_commander.cli.render import console, err
from incident_commander.config import ApprovalKind
from incident_commander.errors import InvalidInput

__all__ = [
    "As",
    "IncidentId",
    "No",
    "Reason",
    "Yes",
    "answer_of",
    "answer_pending",
    "interactive",
    "me",
    "register",
    "status_line",
]

IncidentId = Annotated[str, typer.Argument(help="The incident id, e.g. INC-20261123-0001.")]
Yes = Annotated[
    bool, typer.Option("--yes", help="Answer yes to the pending approval without a prompt.")
]
No = Annotated[
    bool, typer.Option("--no", help="Answer no to the pending approval without a prompt.")
]
As = Annotated[str | None, typer.Option("--as", help="Who answers (a person's name).")]
Reason = Annotated[str, typer.Option("--reason", help="Why; recorded with the decision.")]

REPLIES = {"yes": True, "y": True, "no": False, "n": False}


def me() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "cli"


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def answer_of(yes: bool, no: bool) -> bool | None:
    """The answer the flags give: ``True``, ``False``, or ``None`` when neither was given."""
    if yes and no:
        raise InvalidInput("--yes and --no cannot be given together; give the one you mean")
    return True if yes else False if no else None


def _ask(prompt: str) -> bool:
    reply = typer.prompt(prompt).strip().lower()
    while reply not in REPLIES:
        console.print("Please answer yes or no.")
        reply = typer.prompt(prompt).strip().lower()
    return REPLIES[reply]


def answer_pending(
    ctx: typer.Context,
    incident_id: str,
    kind: ApprovalKind | None,
    yes: bool | None,
    approver: str | None,
    reason: str,
    *,
    required: bool,
) -> None:
    """Answer the pending prompt from flags, or ask on a terminal, or say how to answer.

    With ``required`` (the commands whose whole purpose is the answer), no answer off a
    terminal is an error rather than a silent success.
    """
    engine = ctx.obj.commander().engine
    record = engine.record(incident_id)
    pending = record.incident.pending_approval
    if pending is None or (kind is not None and pending != kind):
        if required or yes is not None:
            engine.answer(
                incident_id, yes=bool(yes), approver=approver or me(), rationale=reason, kind=kind
            )  # raises ApprovalNotPending
        return
    prompt = engine.pending_prompt(incident_id) or ""
    if yes is None:
        if not interactive():
            how = f"ic approve {incident_id} --yes|--no --as NAME --reason TEXT"
            console.print(escape(prompt))
            if required:
                raise InvalidInput(
                    "no answer given and no terminal to ask on: pass --yes or --no "
                    "(with --as NAME --reason TEXT)",
                    hint=how,
                )
            console.print(f"Answer with: {how}")
            return
        yes = _ask(prompt)
        approver = approver or typer.prompt("Your name", default=me())
        reason = reason or typer.prompt("Reason", default="", show_default=False)
    if approver is None:
        raise InvalidInput("an answer needs the name of who gives it (--as NAME)")
    engine.answer(incident_id, yes=yes, approver=approver, rationale=reason, kind=pending)


def status_line(ctx: typer.Context, incident_id: str) -> None:
    """The incident's status and severity (and why it is halted) on stderr."""
    engine = ctx.obj.commander().engine
    inc = engine.record(incident_id).incident
    line = f"{inc.id}: status [bold]{inc.status}[/], severity {inc.severity or '—'}"
    if inc.halt_reason:
        line += f"\nHalted: {escape(inc.halt_reason)}"
    err.print(line)


def register(app: typer.Typer) -> None:
    """Add ``approve``, ``resolve``, ``close`` and ``dismiss`` to ``app``."""

    @app.command()
    def approve(
        ctx: typer.Context,
        incident_id: IncidentId,
        kind: Annotated[
            str | None,
            typer.Option(help="severity, mitigation or resolution (default: the pending one)."),
        ] = None,
        yes: Yes = False,
        no: No = False,
        approver: As = None,
        reason: Reason = "",
    ) -> None:
        """Answer the pending approval (severity, mitigation or resolution)."""
        answer = answer_of(yes, no)
        if kind is not None and kind not in ("severity", "mitigation", "resolution"):
            raise InvalidInput(f"unknown approval {kind!r} (severity, mitigation, resolution)")
        answer_pending(ctx, incident_id, kind, answer, approver, reason, required=True)  # type: ignore[arg-type]
        status_line(ctx, incident_id)

    @app.command()
    def resolve(
        ctx: typer.Context,
        incident_id: IncidentId,
        yes: Yes = False,
        no: No = False,
        approver: As = None,
        reason: Reason = "",
    ) -> None:
        """Answer [RESOLUTION CONFIRMATION]; on yes, write the post-mortem package (phase 4)."""
        answer = answer_of(yes, no)
        answer_pending(ctx, incident_id, "resolution", answer, approver, reason, required=True)
        status_line(ctx, incident_id)

    @app.command()
    def close(ctx: typer.Context, incident_id: IncidentId, approver: As = None) -> None:
        """Close a resolved incident (needs gate 4)."""
        ctx.obj.commander().engine.close(incident_id, closed_by=approver or me())
        status_line(ctx, incident_id)

    @app.command()
    def dismiss(
        ctx: typer.Context,
        incident_id: IncidentId,
        reason: Annotated[str, typer.Option(help="Why this is a false positive.")],
        approver: As = None,
    ) -> None:
        """Record the incident as a false positive (feeds alert-tuning-feedback.json).

        Open to an incident not yet confirmed, and to a halted one at any step.
        """
        ctx.obj.commander().engine.dismiss(
            incident_id, reason=reason, dismissed_by=approver or me(), by_person=True
        )
        status_line(ctx, incident_id)
