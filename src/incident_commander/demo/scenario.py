"""The demo incident: deploy a good v1, deploy a bad v2, and let the engine do the rest."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from incident_commander.alerts.intake import AlertIntake
from incident_commander.app import Commander
from incident_commander.demo import service
from incident_commander.demo.scenarios import SCENARIOS, Scenario, demo_diagnostics, scenario_named
from incident_commander.errors import InvalidInput
from incident_commander.evidence.render import durations
from incident_commander.executors.base import ExecutionStatus
from incident_commander.executors.symlink import point_link
from incident_commander.protocol.engine import EventListener
from incident_commander.protocol.gates import run_gates
from incident_commander.watch.pace import LatestDeploy
from incident_commander.watch.probe import probe_alert, watch_service

__all__ = ["DemoSettings", "run_demo", "setup_by_hand", "stop_service", "write_demo_setup"]

MARKER = ".ic-demo"
SERVICE = "demo-web"

ROLLBACK_SCRIPT = """#!/usr/bin/env bash
# rollback_backend.sh --env ENV --release VERSION: point `current` at VERSION and restart.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
env_name="" release=""
while [ $# -gt 0 ]; do
  case "$1" in
    --env) env_name="$2"; shift 2 ;;
    --release) release="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -d "$here/releases/$release" ] || { echo "no release $release" >&2; exit 1; }
ln -sfn "releases/$release" "$here/current.tmp" && mv -Tf "$here/current.tmp" "$here/current"
echo "rolled back $env_name to $release"
exec "$IC_DEMO_PYTHON" -m incident_commander.demo.service restart \
  --workdir "$here" --port "$IC_DEMO_PORT"
"""


@dataclass(frozen=True)
class DemoSettings:
    """Timings of the demo; short so that it finishes in seconds."""

    probe_interval_s: float = 0.25
    failure_threshold: int = 3
    validation_window_s: float = 1.5
    validation_interval_s: float = 0.25
    detect_timeout_s: float = 60.0
    # Deploy-aware probing (``probe.after_deploy``): off unless a window is given.
    deploy_window_s: float | None = None
    deploy_probe_interval_s: float = 0.1
    deploy_failure_threshold: int = 2

    def probe_config(self) -> dict[str, Any]:
        """The ``probe`` section of the demo service in ic.yaml."""
        probe: dict[str, Any] = {
            "interval_seconds": self.probe_interval_s,
            "failure_threshold": self.failure_threshold,
        }
        if self.deploy_window_s is not None:
            probe["after_deploy"] = {
                "window_seconds": self.deploy_window_s,
                "interval_seconds": self.deploy_probe_interval_s,
                "failure_threshold": self.deploy_failure_threshold,
            }
        return probe

    def probing_text(self) -> str:
        """How the demo probes, in one sentence."""
        text = (
            f"probing every {self.probe_interval_s:g} s; "
            f"{self.failure_threshold} failures in a row open an incident"
        )
        if self.deploy_window_s is not None:
            text += (
                f" (for {self.deploy_window_s:g} s after a deploy: every "
                f"{self.deploy_probe_interval_s:g} s, {self.deploy_failure_threshold} in a row)"
            )
        return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BY_HAND = "made by ic demo --by-hand\n"


def _by_hand_incidents(workdir: Path) -> list[str]:
    """The incidents of a folder set up with ``--by-hand`` (someone's own work), if any."""
    try:
        if (workdir / MARKER).read_text() != BY_HAND:
            return []
    except OSError:
        return []
    evidence = workdir / ".artifacts" / "incidents"
    return sorted(p.name for p in evidence.iterdir()) if evidence.is_dir() else []


def _prepare(workdir: Path, *, by_hand: bool = False, force: bool = False) -> None:
    """Make ``workdir`` empty and ours: an earlier demo run is replaced, anything else kept."""
    try:
        if workdir.exists() and any(workdir.iterdir()):
            if not (workdir / MARKER).exists():
                raise InvalidInput(
                    f"{workdir} exists and is not empty; give a new or empty --workdir "
                    "(or one an earlier `ic demo` made)"
                )
            kept = _by_hand_incidents(workdir)
            if kept and not force:
                raise InvalidInput(
                    f"{workdir} holds incidents recorded by hand ({', '.join(kept)}); "
                    "give another --workdir, or pass --force to replace them"
                )
            service.stop(workdir)
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / MARKER).write_text(BY_HAND if by_hand else "made by ic demo\n")
    except OSError as exc:
        raise InvalidInput(
            f"cannot create {workdir}: {exc.strerror or exc}; give a --workdir you can write to"
        ) from None


def demo_channels(notify_smtp: str | None) -> list[dict[str, Any]]:
    """The demo's channels: the on-call inbox file, and the stakeholders on the console or,
    with ``notify_smtp`` (``HOST:PORT``), by e-mail through that SMTP server."""
    stakeholders: dict[str, Any] = {"name": "stakeholders", "audience": "stakeholders"}
    if notify_smtp:
        host, _, port = notify_smtp.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidInput(f"--notify-smtp wants HOST:PORT, got {notify_smtp!r}")
        stakeholders |= {
            "kind": "apprise",
            "url": f"mailto://{host}:{port}?from=ic-demo@example.com&to=stakeholders@example.com",
            "format": "markdown",
        }
    else:
        stakeholders["kind"] = "console"
    inbox = {"name": "on-call-inbox", "kind": "file", "audience": "SRE on-call"}
    return [{**inbox, "path": "notifications.log"}, stakeholders]


def write_demo_setup(
    workdir: Path,
    port: int,
    timings: DemoSettings,
    *,
    with_policies: bool = True,
    scenario: Scenario = SCENARIOS["bad-deploy"],
    notify_smtp: str | None = None,
) -> None:
    """Write releases, the rollback script, the scenario's files and ic.yaml into ``workdir``."""
    for version, healthy in (("v1", True), ("v2", False)):
        folder = workdir / "releases" / version
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "release.json").write_text(
            f'{{"version": "{version}", "healthy": {str(healthy).lower()}}}\n'
        )
    script = workdir / "scripts" / "rollback_backend.sh"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(ROLLBACK_SCRIPT)
    script.chmod(0o755)
    restart = [
        sys.executable,
        "-m",
        "incident_commander.demo.service",
        "restart",
        "--workdir",
        str(workdir),
        "--port",
        str(port),
    ]
    scenario.setup(workdir)
    config: dict[str, Any] = {
        "evidence_root": ".artifacts/incidents",
        "suspect_deploy_window_minutes": 60,
        "severity": {"scheme": "SEV1-4", "confirmation_sla_minutes": 5},
        "validation": {
            "window_seconds": timings.validation_window_s,
            "interval_seconds": timings.validation_interval_s,
            "threshold": 0.95,
        },
        "services": {
            SERVICE: {
                "description": "the demo web service",
                "url": f"http://127.0.0.1:{port}/",
                "probe": timings.probe_config(),
                "health_checks": [
                    {
                        "name": "health",
                        "kind": "http",
                        "url": f"http://127.0.0.1:{port}/health",
                        "expect_status": 200,
                        "timeout_seconds": 1,
                        "critical": True,
                    },
                ],
                "rollback_options": scenario.options(workdir, port, restart),
                "diagnostics": demo_diagnostics(port),
            }
        },
        "notifications": demo_channels(notify_smtp),
        "policies": scenario.policies if with_policies else [],
    }
    header = (
        f"# Written by `ic demo --scenario {scenario.name}`: the demo service, its rollback "
        "options and the policies\n"
    )
    (workdir / "ic.yaml").write_text(header + yaml.safe_dump(config, sort_keys=False))


def _deploy(commander: Commander, workdir: Path, version: str, port: int) -> None:
    point_link(workdir / "current", Path("releases") / version)
    service.stop(workdir)
    service.start(workdir, port)
    commit = hashlib.sha1(
        (workdir / "releases" / version / "release.json").read_bytes(), usedforsecurity=False
    ).hexdigest()[:12]
    commander.engine.record_deploy(
        service=SERVICE, version=version, commit=commit, deployed_by="ic demo"
    )


def setup_by_hand(
    workdir: Path, *, timings: DemoSettings | None = None, force: bool = False
) -> dict[str, Any]:
    """Prepare ``workdir`` with the bad release live and no policies, for the protocol by hand."""
    timings = timings or DemoSettings()
    workdir = workdir.resolve()
    _prepare(workdir, by_hand=True, force=force)
    port = free_port()
    write_demo_setup(workdir, port, timings, with_policies=False)
    commander = Commander.from_config(workdir / "ic.yaml")
    try:
        _deploy(commander, workdir, "v1", port)
        _deploy(commander, workdir, "v2", port)
    finally:
        commander.close()
    return {"workdir": str(workdir), "service": SERVICE, "url": f"http://127.0.0.1:{port}/health"}


def stop_service(workdir: Path) -> bool:
    """Stop the demo service of ``workdir``; ``True`` if one was running."""
    if not (workdir / MARKER).exists():
        raise InvalidInput(f"{workdir} is not a folder made by `ic demo`")
    return service.stop(workdir.resolve())


def run_demo(
    workdir: Path,
    *,
    timings: DemoSettings | None = None,
    on_event: EventListener | None = None,
    say: Callable[[str, str], None] | None = None,
    force: bool = False,
    scenario: str = "bad-deploy",
    notify_smtp: str | None = None,
) -> dict[str, Any]:
    """Run the whole demo incident of ``scenario`` in ``workdir``; return the summary."""
    try:
        story = scenario_named(scenario)
    except KeyError as exc:
        raise InvalidInput(str(exc.args[0])) from None
    timings = timings or DemoSettings()
    tell = say or (lambda kind, text: None)
    workdir = workdir.resolve()
    _prepare(workdir, force=force)
    port = free_port()
    write_demo_setup(workdir, port, timings, scenario=story, notify_smtp=notify_smtp)
    commander = Commander.from_config(workdir / "ic.yaml", on_event=on_event)
    commander.warm_up()
    try:
        tell("demo", f"deploying v1 (good) of {SERVICE} on 127.0.0.1:{port}")
        _deploy(commander, workdir, "v1", port)
        if story.breaks is None:
            tell("demo", "deploying v2 (bad: /health answers 500)")
            _deploy(commander, workdir, "v2", port)
        else:
            tell("demo", story.breaks(workdir))
        tell("demo", timings.probing_text())
        stop = threading.Event()
        timer = threading.Timer(timings.detect_timeout_s, stop.set)
        timer.start()
        try:
            watched = commander.settings.services[SERVICE]
            deploys = LatestDeploy.of(
                commander.engine.store, SERVICE, watched.probe.interval_seconds
            )
            signal = watch_service(SERVICE, watched, stop=stop, deploys=deploys)
        finally:
            timer.cancel()
        if signal is None:
            raise InvalidInput(f"no failure detected within {timings.detect_timeout_s:g} s")
        # The probe's alert enters through the same intake as every alert of `ic serve`. Its
        # incident's folder is rendered by the first step the driver takes, right after (and
        # once more below), so the rollback does not wait for an extra rendering.
        behind: set[str] = set()
        intake = AlertIntake(commander.engine, refresh=lambda ids, tuning: behind.update(ids))
        taken = intake.ingest([probe_alert(signal)], source="health-probe")
        incident_id = taken.alerts[0]["incident_id"]
        outcome = commander.engine.run(incident_id)
        intake.refresh_now(behind, True)
        commander.engine.outbox.flush(30)  # the gates read what the messages' delivery recorded
        record = commander.engine.record(incident_id)
        gates = run_gates("all", record, commander.engine)
        inc = record.incident
        times = durations(record)
        started = record.executions[0].started_at if record.executions else None
        overhead = (
            round((started - signal.threshold_reached_at).total_seconds() * 1000, 2)
            if started
            else None
        )
        done = next((e for e in record.executions if e.status == ExecutionStatus.SUCCEEDED), None)
        live = os.readlink(workdir / "current")
        # How long the option's own checks took (the tool's time, not the engine's).
        readiness_ms = (inc.readiness or {}).get("checks_took_ms")
        return {
            "incident_id": inc.id,
            "scenario": story.name,
            "status": inc.status,
            "severity": inc.severity,
            "suspect_deploy": record.suspect_deploy.version if record.suspect_deploy else None,
            "action": done.option_name if done else None,
            "release_before": done.release_before if done else None,
            "release_after": done.release_after if done else None,
            "live_release": Path(live).name,
            "recovered": inc.recovered_at is not None,
            "needs": outcome.needs,
            "time_to_detect_s": times["time_to_detect_s"],
            "time_to_mitigate_s": times["time_to_mitigate_s"],
            "time_to_recover_s": times["time_to_recover_s"],
            "engine_overhead_ms": overhead,
            "readiness_ms": readiness_ms,
            "probe_interval_s": timings.probe_interval_s,
            "failure_threshold": timings.failure_threshold,
            "probing": signal.pace.describe() if signal.pace else None,
            "validation_window_s": timings.validation_window_s,
            "restart_s": done.duration_s if done else None,
            "gates": {g.gate: g.passed for g in gates},
            "gate_failures": {g.gate: g.found for g in gates if not g.passed},
            "workdir": str(workdir),
            "evidence_dir": str(commander.engine.evidence.path(inc.id)),
        }
    finally:
        service.stop(workdir)
        commander.close()
