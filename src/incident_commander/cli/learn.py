"""The learning commands: ``ic runbook generate``, ``ic memo export`` and ``promote``,
``ic artifact validate`` and ``ic status-check``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from incident_commander.cli.render import console, print_json
from incident_commander.config import load_settings
from incident_commander.learn.artifacts import Problem, validate_artifact
from incident_commander.learn.company_config import COMPANY_CONFIG
from incident_commander.learn.memos import export_memo, promote_memo
from incident_commander.learn.runbook import generate, ic_settings
from incident_commander.learn.status_check import StatusReport, check_status, targets_of

__all__ = ["register"]

Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
IncidentId = Annotated[str, typer.Argument(help="The incident id, e.g. INC-20261123-0001.")]


def _memo_files(paths: list[Path]) -> list[Path]:
    """The files named, with a folder standing for the Markdown files in it."""
    found: list[Path] = []
    for path in paths:
        found += sorted(path.glob("*.md")) if path.is_dir() else [path]
    return found


def _status_table(report: StatusReport) -> Table:
    table = Table(title="Service status", title_justify="left")
    for column in ("service", "check", "url", "critical", "status", "latency", "result"):
        table.add_column(
            column,
            no_wrap=column in ("service", "check", "status", "latency"),
            overflow="fold" if column == "url" else "ellipsis",
        )
    for probe in report.probes:
        result = "[green]ok[/]" if probe.ok else f"[red]FAIL[/] {escape(probe.failure or '')}"
        table.add_row(
            escape(probe.service),
            escape(probe.name),
            escape(probe.url),
            "yes" if probe.critical else "no",
            str(probe.status) if probe.status is not None else "-",
            f"{probe.latency_ms:.0f} ms" if probe.latency_ms is not None else "-",
            result,
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the learning commands to ``app``."""
    runbook_app = typer.Typer(help="Runbooks generated for your stack.", no_args_is_help=True)
    memo_app = typer.Typer(
        help="Decision memos in artifacts/decision-memos/.", no_args_is_help=True
    )
    artifact_app = typer.Typer(help="Check artifacts such as decision memos.", no_args_is_help=True)
    app.add_typer(runbook_app, name="runbook")
    app.add_typer(memo_app, name="memo")
    app.add_typer(artifact_app, name="artifact")

    @runbook_app.command("generate")
    def runbook_generate(
        ctx: typer.Context,
        config: Annotated[
            Path, typer.Option("--config", help="The company config describing the stack.")
        ] = Path(COMPANY_CONFIG),
        out: Annotated[Path, typer.Option(help="Folder to write the two files into.")] = Path(
            "standards/ops"
        ),
        ic_config: Annotated[
            str | None,
            typer.Option(help="ic.yaml whose severity scheme and options the steps follow."),
        ] = None,
        json_out: Json = False,
    ) -> None:
        """Write incident-runbook.md and post-mortem-template.md for the configured stack."""
        settings = ic_settings(ic_config or ctx.obj.config)
        runbook, written = generate(config, out, settings)
        if json_out:
            print_json(
                {
                    "files": [str(path) for path in written],
                    "scheme": runbook.scheme,
                    "scheme_from": runbook.scheme_source,
                    "options": [option.name for option in runbook.options],
                    "notes": runbook.notes,
                }
            )
            return
        for path in written:
            console.print(f"Wrote {escape(str(path))}")
        console.print(
            f"Severity levels: {runbook.scheme} (from {runbook.scheme_source}); "
            f"{len(runbook.options)} ic option(s) named in the rollback steps."
        )
        for note in runbook.notes:
            console.print(f"[yellow]note[/]: {escape(note)}")

    @memo_app.command("export")
    def memo_export(
        ctx: typer.Context,
        incident_id: IncidentId,
        depends_on: Annotated[
            list[str] | None,
            typer.Option("--depends-on", help="An RFC, PRD or other artifact it relates to."),
        ] = None,
        force: Annotated[
            bool, typer.Option("--force", help="Rewrite a memo already in review or final.")
        ] = False,
        json_out: Json = False,
    ) -> None:
        """Write artifacts/decision-memos/INC-….md from the incident's record, as a draft."""
        commander = ctx.obj.commander()
        path = export_memo(commander.engine, incident_id, depends_on=depends_on, force=force)
        shown = path.relative_to(commander.settings.base_dir)
        if json_out:
            print_json({"incident_id": incident_id, "path": str(shown), "status": "draft"})
        else:
            console.print(
                f"Wrote {escape(str(shown))} (draft). Check it: ic artifact validate {shown}"
            )

    @memo_app.command("promote")
    def memo_promote(ctx: typer.Context, incident_id: IncidentId, json_out: Json = False) -> None:
        """Move the memo from draft to review, or review to final, once gate 4 passes."""
        commander = ctx.obj.commander()
        moved = promote_memo(commander.engine, incident_id)
        shown = moved.path.relative_to(commander.settings.base_dir)
        if json_out:
            print_json({"path": str(shown), "before": moved.before, "after": moved.after})
        else:
            console.print(f"{escape(str(shown))}: {moved.before} → {moved.after}")

    @artifact_app.command("validate")
    def artifact_validate(
        paths: Annotated[list[Path], typer.Argument(help="Memo files, or folders of them.")],
        json_out: Json = False,
    ) -> None:
        """Check front matter and required sections; exit 1 naming each problem."""
        results: dict[str, list[Problem]] = {}
        for path in _memo_files(paths):
            results[str(path)] = validate_artifact(path)
        if not results:
            results = {str(p): [Problem(str(p), "folder", "holds no .md file")] for p in paths}
        if json_out:
            print_json(
                {
                    "ok": not any(results.values()),
                    "files": [
                        {
                            "path": name,
                            "ok": not problems,
                            "problems": [
                                {"where": p.where, "expected": p.expected} for p in problems
                            ],
                        }
                        for name, problems in results.items()
                    ],
                }
            )
        else:
            for name, problems in results.items():
                verdict = "[green]OK[/]" if not problems else f"[red]INVALID[/] ({len(problems)})"
                console.print(f"{verdict} {escape(name)}")
                for problem in problems:
                    console.print(f"  {escape(str(problem))}")
        if any(results.values()):
            raise typer.Exit(1)

    @app.command("status-check")
    def status_check(
        ctx: typer.Context,
        service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
        timeout: Annotated[
            float | None,
            typer.Option(min=0.1, max=300, help="Seconds each URL may take (default: its own)."),
        ] = None,
        json_out: Json = False,
    ) -> None:
        """Ask every service URL of ic.yaml at once; exit 1 if a critical one fails."""
        settings = load_settings(ctx.obj.config)
        report = check_status(targets_of(settings, service=service, timeout=timeout))
        if json_out:
            print_json(report.model_dump())
        else:
            console.print(_status_table(report))
            if report.critical_failures:
                console.print(
                    f"[red]Critical failures:[/] {escape(', '.join(report.critical_failures))}"
                )
            else:
                console.print("[green]Every critical URL is up.[/]")
        if not report.ok:
            raise typer.Exit(1)
