"""Step commands: declare, assess, plan, execute, validate, run."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from incident_commander.checks.base import CheckVerdict
from incident_commander.cli.answers import (
    As,
    IncidentId,
    No,
    Reason,
    Yes,
    answer_of,
    answer_pending,
    interactive,
    me,
    status_line,
)
from incident_commander.cli.render import console, print_json
from incident_commander.errors import InvalidInput
from incident_commander.protocol.severity import Answers
from incident_commander.protocol.steps.declare import SOURCES, Declaration

__all__ = ["register"]

EXIT_NEEDS_PERSON = 8

Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _known_service(ctx: typer.Context, service: str) -> None:
    known = sorted(ctx.obj.commander().settings.services)
    if service in known:
        return
    listed = f"ic.yaml knows: {', '.join(known)}" if known else "ic.yaml lists no services"
    raise InvalidInput(
        f"unknown service {service!r} ({listed})",
        hint="declare on a service of ic.yaml, or add this one under `services:` there",
    )


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
        """Open an incident (phase 1) on a service of ic.yaml."""
        checked = Declaration(
            title=title, service=service, source=source, detected_by=detected_by or me()
        ).checked()
        _known_service(ctx, checked.service)
        engine = ctx.obj.commander().engine
        incident_id = engine.declare(
            title=title,
            service=service,
            source=source,
            detected_by=detected_by or me(),
            symptoms=symptom or [],
        )
        if json_out:
            print_json({"incident_id": incident_id})
        elif quiet:
            print(incident_id)
        else:
            console.print(f"Declared [bold]{incident_id}[/]. Next: ic assess {incident_id}")
        # Before anyone asks: the service's diagnostics run now; the command waits for them
        # (each bounded by its timeout) only as it exits.
        engine.diagnose_in_background(incident_id)

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
        deploys_blocked: Annotated[
            bool, typer.Option(help="Deploys are blocked (the pipeline is broken).")
        ] = False,
        correctness: Annotated[bool, typer.Option(help="Results are wrong.")] = False,
        slo_burn_rate: Annotated[float | None, typer.Option(help="Current SLO burn rate.")] = None,
        blast_radius: Annotated[str | None, typer.Option(help="Who or what is affected.")] = None,
        customer_impact: Annotated[str | None, typer.Option(help="Impact on customers.")] = None,
        component: Annotated[list[str] | None, typer.Option(help="Impacted component.")] = None,
        yes: Yes = False,
        no: No = False,
        approver: As = None,
        reason: Reason = "",
    ) -> None:
        """Answer the severity questions; the decision tree classifies (phase 1)."""
        answer = answer_of(yes, no)
        if production is None:
            if not interactive():
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
            deploys_blocked=deploys_blocked,
            correctness_affected=correctness,
            slo_burn_rate=slo_burn_rate,
            blast_radius=blast_radius,
            customer_impact=customer_impact,
            impacted_components=component or [],
        )
        engine = ctx.obj.commander().engine
        severity = engine.assess(incident_id, answers, assessed_by=approver or me())
        console.print(f"{incident_id} classified [bold]{severity}[/].")
        answer_pending(ctx, incident_id, "severity", answer, approver, reason, required=False)

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
        fix_version: Annotated[
            str | None, typer.Option(help="The version a fix-forward option deploys.")
        ] = None,
        yes: Yes = False,
        no: No = False,
        approver: As = None,
        reason: Reason = "",
    ) -> None:
        """Write the mitigation plan and check rollback readiness (phase 2)."""
        answer = answer_of(yes, no)
        engine = ctx.obj.commander().engine
        written = engine.plan(
            incident_id,
            root_cause_known=root_cause_known,
            fix_minutes=fix_minutes,
            option=option,
            chosen_by=approver or me(),
            fix_version=fix_version,
        )
        rec = written.get("recommendation", {})
        console.print(
            f"Recommendation: [bold]{rec.get('decision')}[/]; order: "
            f"{', '.join(written.get('chosen', [])) or 'none'}"
        )
        status_line(ctx, incident_id)
        answer_pending(ctx, incident_id, "mitigation", answer, approver, reason, required=False)

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
        status_line(ctx, incident_id)
        if not outcome.succeeded:
            raise typer.Exit(1)

    @app.command()
    def validate(
        ctx: typer.Context,
        incident_id: IncidentId,
        yes: Yes = False,
        no: No = False,
        approver: As = None,
        reason: Reason = "",
    ) -> None:
        """Validate recovery over the configured window (phase 3)."""
        answer = answer_of(yes, no)
        attempt = ctx.obj.commander().engine.validate(incident_id)
        if attempt:
            console.print(
                f"Recovery validation [bold]{attempt['verdict']}[/]: "
                f"{attempt['critical_pass_rate'] * 100:.1f}% of critical samples passed"
            )
        status_line(ctx, incident_id)
        if not attempt or attempt["verdict"] != CheckVerdict.PASSED:
            raise typer.Exit(1)
        answer_pending(ctx, incident_id, "resolution", answer, approver, reason, required=False)

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
            status_line(ctx, incident_id)
            if outcome.needs:
                console.print(f"Needs: {escape(outcome.needs)}")
        if outcome.needs:
            raise typer.Exit(EXIT_NEEDS_PERSON)
