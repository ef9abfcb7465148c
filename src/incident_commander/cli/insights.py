"""Learning across incidents: ``ic metrics``, ``ic similar`` and ``ic alerts tuning``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from incident_commander.cli.answers import IncidentId
from incident_commander.cli.render import console, print_json
from incident_commander.clock import utcnow
from incident_commander.errors import InvalidInput
from incident_commander.insights.metrics import MEASURES, IncidentMetrics, compute_metrics
from incident_commander.insights.period import period_of
from incident_commander.insights.similar import Match, find_similar
from incident_commander.insights.trend import Week
from incident_commander.insights.tuning_report import TuningReport, tuning_report

__all__ = ["print_similar", "register"]

Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
BAR_WIDTH = 40


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{round(value, 3):g} s"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{escape(k)} {v}" for k, v in counts.items()) or "none"


def _chart(weeks: list[Week]) -> None:
    """Incidents per week as bars of plain characters."""
    if not weeks:
        return
    console.print("\n[bold]Incidents per week[/] (# = incident, f = of them false positives)")
    most = max(w.incidents for w in weeks) or 1
    for week in weeks:
        length = round(week.incidents / most * BAR_WIDTH) if most > BAR_WIDTH else week.incidents
        false = round(week.false_positives / max(week.incidents, 1) * length)
        bar = "#" * (length - false) + "f" * false
        console.print(f"{week.label}  {bar:<{BAR_WIDTH}}  {week.incidents}", markup=False)


def print_metrics(result: IncidentMetrics) -> None:
    """The numbers, the gates, the noisy rules and the weekly chart."""
    period = result.period.as_dict()
    span = f"{period['since'] or 'the start'} to {period['until'] or 'now'}"
    where = f"service {result.period.service}" if result.period.service else "all services"
    console.print(f"[bold]{result.incidents} incident(s)[/] detected from {span}, {escape(where)}")
    console.print(f"By severity: {_counts(result.by_severity)}")
    console.print(f"By service: {_counts(result.by_service)}")
    console.print(f"By status: {_counts(result.by_status)}")
    times = Table("measure", "from", "to", "n", "median", "p90 (nearest rank)")
    for m in MEASURES:
        spread = result.durations[m.name]
        times.add_row(
            f"{m.short} {m.name.replace('_', ' ')}",
            m.start,
            m.end,
            str(spread.count),
            _seconds(spread.median),
            _seconds(spread.p90),
        )
    console.print(times)
    gates = Table("gate", "counted when", "passed when", "counted", "passed", "rate")
    for gate in result.gates:
        row = gate.as_dict()
        rate = "—" if gate.rate is None else f"{gate.rate:.0%}"
        gate_name = f"{gate.gate} {gate.title}"
        gate_cells = (row["counted_when"], row["passed_when"], str(gate.applies), str(gate.passed))
        gates.add_row(gate_name, *gate_cells, rate)
    console.print(gates)
    if result.alert_rules:
        rules = Table("alert rule", "alerts", "false positives", "rate")
        for rule in result.alert_rules:
            rules.add_row(
                escape(rule.rule), str(rule.alerts), str(rule.false_positives), f"{rule.rate:.0%}"
            )
        console.print(rules)
    else:
        console.print("Alert rules: no alerts in this period.")
    if result.action_items is None:
        console.print("Action items: not counted yet (the store has no action-items table).")
    else:
        console.print(f"Action items: {_counts(result.action_items)}")
    _chart(result.weeks)


def print_similar(matches: list[Match], *, heading: str = "Similar past incidents") -> None:
    """The matches, closest first, each with what it shares, its resolution and what worked."""
    if not matches:
        console.print(f"{heading}: none on record before this incident opened.")
        return
    table = Table("incident", "score", "shared", "resolution", "what worked", title=heading)
    for match in matches:
        past = match.incident
        table.add_row(
            f"{escape(past.id)} ({past.status})\n{escape(past.title)}",
            f"{match.score:.2f}",
            escape(match.explain()),
            escape(past.resolution or "—"),
            escape(past.worked or "—"),
        )
    console.print(table)


def print_tuning(report: TuningReport) -> None:
    """The noisiest alert rules with their false positives and the advice gathered."""
    if not report.rules:
        console.print(f"No false positives among {report.rules_seen} alert rule(s).")
    else:
        table = Table("alert rule", "alerts", "false positives", "rate", "kinds", "suggestions")
        for rule in report.rules:
            kinds = ", ".join(f"{k} {v}" for k, v in rule.as_dict()["outcomes"].items())
            advice = [s["suggestion"] for s in rule.as_dict()["suggestions"]]
            table.add_row(
                escape(rule.rule),
                str(rule.alerts),
                str(rule.false_positives),
                "—" if rule.rate is None else f"{rule.rate:.0%}",
                escape(kinds or "—"),
                escape("\n".join(f"- {a}" for a in advice) or "—"),
            )
        console.print(table)
    for problem in report.problems:
        console.print(f"[yellow]Skipped[/] {escape(problem)}")


def register(app: typer.Typer) -> None:
    """Add ``metrics`` and ``similar`` to ``app``, and ``tuning`` to its ``alerts`` group."""

    @app.command()
    def metrics(
        ctx: typer.Context,
        since: Annotated[
            str | None, typer.Option(help="From this date (2026-11-01) or moment, UTC.")
        ] = None,
        until: Annotated[
            str | None, typer.Option(help="Up to this date (included) or moment, UTC.")
        ] = None,
        service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
        json_out: Json = False,
    ) -> None:
        """Incident metrics: counts, MTTD/MTTA/MTTR (median, p90), gates, noisy alerts, trend."""
        period = period_of(since, until, service)
        commander = ctx.obj.commander()
        with commander.store.session() as session:
            result = compute_metrics(
                session, period, now=utcnow(), severities=commander.settings.scheme.names
            )
        if service is not None and service not in commander.settings.services:
            if not result.incidents:
                raise InvalidInput(f"unknown service {service!r}: not in ic.yaml, no incidents")
        if json_out:
            print_json(result.as_dict())
        else:
            print_metrics(result)

    @app.command()
    def similar(
        ctx: typer.Context,
        incident_id: IncidentId,
        limit: Annotated[int, typer.Option(min=1, max=50, help="At most this many.")] = 5,
        json_out: Json = False,
    ) -> None:
        """The closest past incidents, what they share with this one, and what worked."""
        matches = find_similar(ctx.obj.commander().store, incident_id, limit=limit)
        if json_out:
            print_json({"incident_id": incident_id, "similar": [m.as_dict() for m in matches]})
        else:
            print_similar(matches)

    alerts_app = _group(app, "alerts")

    @alerts_app.command("tuning")
    def tuning(ctx: typer.Context, json_out: Json = False) -> None:
        """The noisiest alert rules, their false-positive rates, and what to change."""
        commander = ctx.obj.commander()
        with commander.store.session() as session:
            report = tuning_report(session, commander.settings.evidence_dir)
        if json_out:
            print_json(report.as_dict())
        else:
            print_tuning(report)


def _group(app: typer.Typer, name: str) -> typer.Typer:
    """The command group ``name`` already added to ``app`` (``alerts``: by ``cli/serve.py``)."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    raise LookupError(f"no `{name}` command group registered before the insights commands")
