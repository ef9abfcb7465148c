"""Incident commands: declare, assess, approve, plan, execute, validate, resolve, run, show."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from incident_commander.cli.render import console, err, print_json, print_record
from incident_commander.config import ApprovalKind
from incident_commander.errors import InvalidInput
from incident_commander.protocol.intake import SOURCES
from incident_commander.protocol.severity import Answers
from incident_commander.views import incident_row, incident_view

__all__ = ["register"]

EXIT_NEEDS_PERSON = 8

IncidentId = Annotated[str, typer.Argument(help="The incident id, e.g. INC-20261123-0001.")]
Yes = Annotated[
    bool | None,
    typer.Option("--yes/--no", help="Answer the pending approval without a prompt."),
]
As = Annotated[str | None, typer.Option("--as", help="Who answers (a person's name).")]
Reason = Annotated[str, typer.Option("--reason", help="Why; recorded with the decision.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _me() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "cli"


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


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
    """Answer the pending prompt from flags, or ask on a terminal, or say how to answer."""
    engine = ctx.obj.commander().engine
    record = engine.record(incident_id)
    pending = record.incident.pending_approval
    if pending is None or (kind is not None and pending != kind):
        if required or yes is not None:
            engine.answer(
                incident_id, yes=bool(yes), approver=approver or _me(), rationale=reason, kind=kind
            )  # raises ApprovalNotPending
        return
    prompt = engine.pending_prompt(incident_id) or ""
    if yes is None:
        if not _interactive():
            console.print(escape(prompt))
            console.print(
                f"Answer with: ic approve {incident_id} --yes|--no --as NAME --reason TEXT"
            )
            return
        reply = ""
        while reply not in ("yes", "no"):
            reply = typer.prompt(prompt).strip().lower()
        yes = reply == "yes"
        approver = approver or typer.prompt("Your name", default=_me())
        reason = reason or typer.prompt("Reason", default="", show_default=False)
    if approver is None:
        raise InvalidInput("an answer needs the name of who gives it (--as NAME)")
    engine.answer(incident_id, yes=yes, approver=approver, rationale=reason, kind=pending)


def register(app: typer.Typer) -> None:
    """Add the incident commands to ``app``."""

    @app.command()
    def declare(
        ctx: typer.Context,
        title: Annotated[str, typer.Option(help="What is wrong, in one line.")],
        service: Annotated[str, typer.Option(help="The affected service.")],
        source: Annotated[
            str, typer.Option(help=f"Where the signal came from: {', '.join(SOURCES)}.")
        ] = "user-report",
        detected_by: Annotated[str | None, typer.Option(help="Who or what noticed.")] = None,
        symptom: Annotated[list[str] | None, typer.Option(help="A symptom (repeatable).")] = None,
        json_out: Json = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the id.")] = False,
    ) -> None:
        """Open an incident (phase 1)."""
        engine = ctx.obj.commander().engine
        incident_id = engine.declare(
            title=title,
            service=service,
            source=source,
            detected_by=detected_by or _me(),
            symptoms=symptom or [],
        )
        if json_out:
            print_json({"incident_id": incident_id})
        elif quiet:
            print(incident_id)
        else:
            console.print(f"Declared [bold]{incident_id}[/]. Next: ic assess {incident_id}")

    @app.command()
    def assess(
        ctx: typer.Context,
        incident_id: IncidentId,
        production: Annotated[
            bool | None, typer.Option("--production/--not-production", help="Production affected?")
        ] = None,
        outage: Annotated[bool, typer.Option(help="The service is down for its users.")] = False,
        data_loss: Annotated[bool, typer.Option(help="Data was lost or corrupted.")] = False,
        security: Annotated[bool, typer.Option(help="Security is compromised.")] = False,
        users_blocked: Annotated[bool, typer.Option(help="Users cannot do their work.")] = False,
        correctness: Annotated[bool, typer.Option(help="Results are wrong.")] = False,
        slo_burn_rate: Annotated[float | None, typer.Option(help="Current SLO burn rate.")] = None,
        blast_radius: Annotated[str | None, typer.Option(help="Who or what is affected.")] = None,
        customer_impact: Annotated[str | None, typer.Option(help="Impact on customers.")] = None,
        component: Annotated[list[str] | None, typer.Option(help="Impacted component.")] = None,
        yes: Yes = None,
        approver: As = None,
        reason: Reason = "",
    ) -> None:
        """Answer the severity questions; the decision tree classifies (phase 1)."""
        if production is None:
            if not _interactive():
                raise InvalidInput(
                    "say whether production is affected: --production or --not-production"
                )
            production = typer.confirm("Is production affected?")
            if production:
                outage = outage or typer.confirm("Is the service down for its users?")
                data_loss = data_loss or typer.confirm("Was data lost or corrupted?")
                security = security or typer.confirm("Is security compromised?")
            else:
                users_blocked = users_blocked or typer.confirm("Are users blocked?")
                correctness = correctness or typer.confirm("Is correctness affected?")
        answers = Answers(
            production_affected=production,
            outage=outage,
            data_loss=data_loss,
            security_compromised=security,
            users_blocked=users_blocked,
            correctness_affected=correctness,
            slo_burn_rate=slo_burn_rate,
            blast_radius=blast_radius,
            customer_impact=customer_impact,
            impacted_components=component or [],
        )
        engine = ctx.obj.commander().engine
        severity = engine.assess(incident_id, answers, assessed_by=approver or _me())
        console.print(f"{incident_id} classified [bold]{severity}[/].")
        answer_pending(ctx, incident_id, "severity", yes, approver, reason, required=False)

    @app.command()
    def approve(
        ctx: typer.Context,
        incident_id: IncidentId,
        kind: Annotated[
            str | None,
            typer.Option(help="severity, mitigation or resolution (default: the pending one)."),
        ] = None,
        yes: Yes = None,
        approver: As = None,
        reason: Reason = "",
    ) -> None:
        """Answer the pending approval (severity, mitigation or resolution)."""
        if kind is not None and kind not in ("severity", "mitigation", "resolution"):
            raise InvalidInput(f"unknown approval {kind!r} (severity, mitigation, resolution)")
        answer_pending(ctx, incident_id, kind, yes, approver, reason, required=True)  # type: ignore[arg-type]
        _status_line(ctx, incident_id)

    @app.command()
    def plan(
        ctx: typer.Context,
        incident_id: IncidentId,
        root_cause_known: Annotated[bool, typer.Option(help="The root cause is known.")] = False,
        fix_minutes: Annotated[
            float | None, typer.Option(help="Estimated minutes to a fix.")
        ] = None,
        option: Annotated[
            str | None, typer.Option(help="Choose this rollback option first.")
        ] = None,
        yes: Yes = None,
        approver: As = None,
        reason: Reason = "",
    ) -> None:
        """Write the mitigation plan and check rollback readiness (phase 2)."""
        engine = ctx.obj.commander().engine
        written = engine.plan(
            incident_id,
            root_cause_known=root_cause_known,
            fix_minutes=fix_minutes,
            option=option,
            chosen_by=approver or _me(),
        )
        rec = written.get("recommendation", {})
        console.print(
            f"Recommendation: [bold]{rec.get('decision')}[/]; order: "
            f"{', '.join(written.get('chosen', [])) or 'none'}"
        )
        _status_line(ctx, incident_id)
        answer_pending(ctx, incident_id, "mitigation", yes, approver, reason, required=False)

    @app.command()
    def execute(ctx: typer.Context, incident_id: IncidentId) -> None:
        """Run the approved mitigation; each next option is tried if one fails (phase 3)."""
        outcome = ctx.obj.commander().engine.execute(incident_id)
        if outcome.recovered:
            console.print(escape(outcome.recovered))
        for run in outcome.runs:
            console.print(
                f"{escape(run.option_name)}: [bold]{run.status}[/]"
                + (f" — {escape(run.error)}" if run.error else "")
            )
        _status_line(ctx, incident_id)
        if not outcome.succeeded:
            raise typer.Exit(1)

    @app.command()
    def validate(
        ctx: typer.Context,
        incident_id: IncidentId,
        yes: Yes = None,
        approver: As = None,
        reason: Reason = "",
    ) -> None:
        """Validate recovery over the configured window (phase 3)."""
        attempt = ctx.obj.commander().engine.validate(incident_id)
        if attempt:
            console.print(
                f"Recovery validation [bold]{attempt['verdict']}[/]: "
                f"{attempt['critical_pass_rate'] * 100:.1f}% of critical samples passed"
            )
        _status_line(ctx, incident_id)
        if not attempt or attempt["verdict"] != "passed":
            raise typer.Exit(1)
        answer_pending(ctx, incident_id, "resolution", yes, approver, reason, required=False)

    @app.command()
    def resolve(
        ctx: typer.Context,
        incident_id: IncidentId,
        yes: Yes = None,
        approver: As = None,
        reason: Reason = "",
    ) -> None:
        """Answer [RESOLUTION CONFIRMATION]; on yes, write the post-mortem package (phase 4)."""
        answer_pending(ctx, incident_id, "resolution", yes, approver, reason, required=True)
        _status_line(ctx, incident_id)

    @app.command()
    def close(ctx: typer.Context, incident_id: IncidentId, approver: As = None) -> None:
        """Close a resolved incident (needs gate 4)."""
        ctx.obj.commander().engine.close(incident_id, closed_by=approver or _me())
        _status_line(ctx, incident_id)

    @app.command()
    def postmortem(
        ctx: typer.Context,
        incident_id: IncidentId,
        root_cause: Annotated[str | None, typer.Option(help="The root cause, in one line.")] = None,
        why: Annotated[list[str] | None, typer.Option(help="One answer of the 5 Whys.")] = None,
        factor: Annotated[list[str] | None, typer.Option(help="A contributing factor.")] = None,
        went_well: Annotated[list[str] | None, typer.Option(help="What went well.")] = None,
        went_poorly: Annotated[list[str] | None, typer.Option(help="What went poorly.")] = None,
        lucky: Annotated[list[str] | None, typer.Option(help="Where we got lucky.")] = None,
        action: Annotated[
            list[str] | None, typer.Option(help="An action item: 'TEXT;OWNER;YYYY-MM-DD'.")
        ] = None,
        approver: As = None,
    ) -> None:
        """Record the post-incident review; INCIDENT-REPORT.md is rewritten with it."""
        from pydantic import ValidationError

        from incident_commander.protocol.closing import Review

        actions = []
        for item in action or []:
            parts = [p.strip() for p in item.split(";")]
            if len(parts) != 3:
                raise InvalidInput(f"--action {item!r}: expected 'TEXT;OWNER;YYYY-MM-DD'")
            actions.append({"text": parts[0], "owner": parts[1], "due": parts[2]})
        values: dict[str, Any] = {
            "root_cause": root_cause,
            "whys": why,
            "contributing": factor,
            "went_well": went_well,
            "went_poorly": went_poorly,
            "lucky": lucky,
            "actions": actions or None,
        }
        try:
            review = Review.model_validate({k: v for k, v in values.items() if v})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"{where}: {first['msg']}") from None
        engine = ctx.obj.commander().engine
        engine.record_review(incident_id, review, recorded_by=approver or _me())
        console.print(str(engine.report(incident_id)))

    @app.command()
    def dismiss(
        ctx: typer.Context,
        incident_id: IncidentId,
        reason: Annotated[str, typer.Option(help="Why this is a false positive.")],
        approver: As = None,
    ) -> None:
        """Record the incident as a false positive (feeds alert-tuning-feedback.json)."""
        ctx.obj.commander().engine.dismiss(
            incident_id, reason=reason, dismissed_by=approver or _me()
        )
        _status_line(ctx, incident_id)

    @app.command("run")
    def run_incident(ctx: typer.Context, incident_id: IncidentId, json_out: Json = False) -> None:
        """Drive the incident as far as approvals and policies allow; say what it needs."""
        outcome = ctx.obj.commander().engine.run(incident_id)
        if json_out:
            print_json(
                {
                    "incident_id": outcome.incident_id,
                    "status": outcome.status,
                    "needs": outcome.needs,
                    "ok": outcome.ok,
                }
            )
        else:
            _status_line(ctx, incident_id)
            if outcome.needs:
                console.print(f"Needs: {escape(outcome.needs)}")
        if outcome.needs:
            raise typer.Exit(EXIT_NEEDS_PERSON)

    @app.command("list")
    def list_incidents(
        ctx: typer.Context,
        status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
        service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
        severity: Annotated[str | None, typer.Option(help="Only this severity.")] = None,
        json_out: Json = False,
    ) -> None:
        """List incidents, newest first."""
        from rich.table import Table

        rows = ctx.obj.commander().engine.list_incidents(
            status=status, service=service, severity=severity
        )
        data: list[dict[str, Any]] = [incident_row(r) for r in rows]
        if json_out:
            print_json(data)
            return
        table = Table("id", "status", "severity", "service", "title", "detected (UTC)")
        for row in data:
            table.add_row(
                *(
                    escape(str(row[k] or "—"))
                    for k in ("id", "status", "severity", "service", "title", "detected_at")
                )
            )
        console.print(table if data else "No incidents.")

    @app.command()
    def show(ctx: typer.Context, incident_id: IncidentId, json_out: Json = False) -> None:
        """Show an incident: status, severity, what it waits for, and its timeline."""
        engine = ctx.obj.commander().engine
        if json_out:
            print_json(incident_view(engine, incident_id))
            return
        print_record(engine.record(incident_id), engine.pending_prompt(incident_id))

    @app.command()
    def report(ctx: typer.Context, incident_id: IncidentId) -> None:
        """(Re)write INCIDENT-REPORT.md from what was recorded."""
        console.print(str(ctx.obj.commander().engine.report(incident_id)))


def _status_line(ctx: typer.Context, incident_id: str) -> None:
    engine = ctx.obj.commander().engine
    inc = engine.record(incident_id).incident
    line = f"{inc.id}: status [bold]{inc.status}[/], severity {inc.severity or '—'}"
    if inc.halt_reason:
        line += f"\nHalted: {escape(inc.halt_reason)}"
    err.print(line)
