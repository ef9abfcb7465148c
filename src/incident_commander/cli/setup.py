"""``ic init`` and ``ic deploy record``."""

from __future__ import annotations

from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from incident_commander.cli.render import console
from incident_commander.config import CONFIG_FILE
from incident_commander.errors import InvalidInput
from incident_commander.evidence.upstream import read_deployment

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``init`` and the ``deploy`` group to ``app``."""
    deploy_app = typer.Typer(
        help="Deployments (they name the suspect deploy).", no_args_is_help=True
    )
    app.add_typer(deploy_app, name="deploy")

    @app.command()
    def init(
        path: Annotated[Path, typer.Option(help="Where to write the config.")] = Path(CONFIG_FILE),
        force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    ) -> None:
        """Write a commented starter ic.yaml."""
        if path.exists() and not force:
            raise InvalidInput(f"{path} already exists; use --force to overwrite it")
        text = files("incident_commander").joinpath("starter.yaml").read_text(encoding="utf-8")
        path.write_text(text, encoding="utf-8")
        console.print(
            f"Wrote {path}. Edit the services, notifications and policies, then "
            "run `ic declare` or point your probes at it."
        )

    @deploy_app.command("record")
    def record(
        ctx: typer.Context,
        service: Annotated[str | None, typer.Option(help="The service deployed.")] = None,
        version: Annotated[str | None, typer.Option(help="The version deployed.")] = None,
        commit: Annotated[str | None, typer.Option(help="The commit SHA.")] = None,
        by: Annotated[str | None, typer.Option(help="Who deployed.")] = None,
        at: Annotated[str | None, typer.Option(help="When (ISO 8601, default now).")] = None,
        from_file: Annotated[
            Path | None,
            typer.Option("--from", help="A production-deployment-report.json naming the deploy."),
        ] = None,
    ) -> None:
        """Record a deploy; one shortly before an incident's first signal is the suspect."""
        when = None
        if at:
            try:
                when = datetime.fromisoformat(at.replace("Z", "+00:00"))
            except ValueError:
                raise InvalidInput(f"--at {at!r} is not an ISO 8601 time") from None
        if from_file is not None:
            try:
                report = read_deployment(from_file)
            except ValueError as exc:
                raise InvalidInput(str(exc)) from None
            service = service or report.service
            version = version or report.version
            commit = commit or report.commit
            by = by or report.deployed_by
            when = when or report.deployed_at
        if not service or not version:
            raise InvalidInput("name the deploy: --service and --version, or --from FILE")
        deploy = ctx.obj.commander().engine.record_deploy(
            service=service, version=version, commit=commit, deployed_by=by, deployed_at=when
        )
        console.print(f"Recorded deploy #{deploy.id}: {service} {version}")
