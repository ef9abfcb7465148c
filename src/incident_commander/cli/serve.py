"""``ic serve`` and ``ic alerts ingest``."""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from incident_commander.alerts.formats import GenericAlert
from incident_commander.alerts.intake import AlertIntake, IngestResult
from incident_commander.alerts.parse import Parsed, parse_delivery
from incident_commander.cli.render import console, err, log_event, print_json
from incident_commander.errors import InvalidInput, ListenError

__all__ = ["check_can_listen", "parse_alert_file", "register"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_can_listen(host: str, port: int) -> None:
    """Bind ``host:port`` once and let it go, so a taken port is one clear error up front."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind(address)
        except OSError as exc:
            why = (
                "the port is in use by another program"
                if exc.errno == errno.EADDRINUSE
                else exc.strerror or str(exc)
            )
            raise ListenError(
                f"cannot listen on {host}:{port}: {why}",
                hint="stop what listens there, or pass another --port",
            ) from None


def parse_alert_file(path: Path, *, limit: int) -> tuple[str, Parsed]:
    """Read alerts from a file in any webhook format, or an ``alert-test-results.json``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InvalidInput(f"{path}: malformed JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = {"alerts": data["results"]}
    if isinstance(data, list):
        data = {"alerts": data}
    if isinstance(data, dict) and "summary" in data:
        data = {"alerts": [data]}
    if isinstance(data, dict) and "event_action" in data:
        source = "events"
    elif isinstance(data, dict) and isinstance(data.get("alerts"), list) and "status" in data:
        source = "grafana" if "orgId" in data else "alertmanager"
    elif isinstance(data, dict) and isinstance(data.get("alerts"), list):
        source = "file"
    else:
        raise InvalidInput(
            f"{path}: not a known alert format (Alertmanager, Grafana, Events v2, generic "
            f"{{'alerts': [{', '.join(GenericAlert.model_fields)}]}}, or alert-test-results.json)"
        )
    try:
        return source, parse_delivery(source, data, limit=limit)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.message}") from None


def _print_ingested(result: IngestResult, outcomes: list[Any]) -> None:
    """One line per alert taken and per incident driven."""
    for entry in result.alerts:
        console.print(
            f"{entry['fingerprint'][:12]} {entry['status']}: {entry['outcome']}"
            + (f" → {entry['incident_id']}" if entry["incident_id"] else "")
            + (f" ({entry['reason']})" if entry["reason"] else "")
        )
    for outcome in outcomes:
        console.print(
            f"{outcome.incident_id}: {outcome.status}"
            + (f"; needs {outcome.needs}" if outcome.needs else "")
        )


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``alerts`` group to ``app``."""
    alerts_app = typer.Typer(help="Alerts from files.", no_args_is_help=True)
    app.add_typer(alerts_app, name="alerts")

    @app.command()
    def serve(
        ctx: typer.Context,
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[
            int, typer.Option(min=1, max=65535, help="Port to listen on (1-65535).")
        ] = 8080,
        allow_unauthenticated: Annotated[
            bool,
            typer.Option(help="Listen beyond loopback even without IC_API_TOKEN."),
        ] = False,
        probes: Annotated[bool, typer.Option(help="Run the health probes of ic.yaml.")] = True,
    ) -> None:
        """Run the HTTP service: webhooks, REST API, /metrics, and the probe loop."""
        import uvicorn

        from incident_commander.web.app import create_app

        token = os.environ.get("IC_API_TOKEN") or None
        if token is None and not _is_loopback(host) and not allow_unauthenticated:
            err.print(
                f"No IC_API_TOKEN is set, so Incident Commander listens on loopback only "
                f"(127.0.0.1) instead of {host}. Set IC_API_TOKEN, or pass "
                "--allow-unauthenticated to listen there anyway.",
                soft_wrap=True,
            )
            host = "127.0.0.1"
        elif token is None:
            err.print("No IC_API_TOKEN is set: the API and webhooks accept unauthenticated calls.")
        check_can_listen(host, port)
        commander = ctx.obj.commander(on_event=log_event)
        commander.warm_up()
        application = create_app(commander, token=token, probes=probes)
        err.print(f"Incident Commander on http://{host}:{port} (API docs at /docs)")
        uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)

    @alerts_app.command("ingest")
    def ingest(
        ctx: typer.Context,
        path: Annotated[Path, typer.Argument(help="A JSON file of alerts.")],
        run: Annotated[
            bool, typer.Option(help="Drive each opened incident as far as policies allow.")
        ] = True,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Take alerts in from a file, exactly as the webhooks would."""
        engine = ctx.obj.commander().engine
        source, parsed = parse_alert_file(
            path, limit=engine.settings.alerts.max_alerts_per_delivery
        )
        result = IngestResult(received=0)
        if parsed.signals:
            result = AlertIntake(engine).ingest(parsed.signals, source=source)
        outcomes = [engine.run(i) for i in result.opened] if run else []
        if json_out:
            rejected = [r.as_dict() for r in parsed.rejected]
            print_json(
                {**result.as_dict(), "rejected": rejected, "runs": [o.__dict__ for o in outcomes]}
            )
        else:
            _print_ingested(result, outcomes)
        if parsed.rejected:
            raise InvalidInput(f"{path}: alerts not taken: {parsed.describe_rejected()}")
