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
from pydantic import BaseModel, ValidationError

from incident_commander.alerts.formats import (
    AlertmanagerPayload,
    EventPayload,
    GenericAlert,
    GenericPayload,
    GrafanaPayload,
)
from incident_commander.alerts.intake import AlertIntake
from incident_commander.alerts.signal import (
    AlertSignal,
    from_alertmanager,
    from_event,
    from_generic,
)
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


def _validated(model: type[BaseModel], data: Any, path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{path}: {field}: {first['msg']}") from None


def parse_alert_file(path: Path) -> tuple[str, list[AlertSignal]]:
    """Read alerts from a file in any webhook format, or an ``alert-test-results.json``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InvalidInput(f"{path}: malformed JSON: {exc}") from None
    if isinstance(data, dict) and "event_action" in data:
        signal = from_event(_validated(EventPayload, data, path))
        return "events", [signal] if signal else []
    if isinstance(data, dict) and isinstance(data.get("alerts"), list) and "status" in data:
        if "orgId" in data:
            return "grafana", from_alertmanager(_validated(GrafanaPayload, data, path), "grafana")
        payload = _validated(AlertmanagerPayload, data, path)
        return "alertmanager", from_alertmanager(payload, "alertmanager")
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = {"alerts": data["results"]}
    if isinstance(data, list):
        data = {"alerts": data}
    if isinstance(data, dict) and "summary" in data:
        data = {"alerts": [data]}
    if isinstance(data, dict) and isinstance(data.get("alerts"), list):
        payload = _validated(GenericPayload, data, path)
        return "file", from_generic(payload, "file")
    raise InvalidInput(
        f"{path}: not a known alert format (Alertmanager, Grafana, Events v2, generic "
        f"{{'alerts': [{', '.join(GenericAlert.model_fields)}]}}, or alert-test-results.json)"
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
        source, signals = parse_alert_file(path)
        engine = ctx.obj.commander().engine
        result = AlertIntake(engine).ingest(signals, source=source)
        outcomes = [engine.run(i) for i in result.opened] if run else []
        if json_out:
            print_json({**result.as_dict(), "runs": [o.__dict__ for o in outcomes]})
            return
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
