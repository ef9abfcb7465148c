"""Deploy-aware probing: faster, shorter streaks right after a deploy, the normal ones after
the window, and no false incident from a flaky probe over healthy deploys."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from incident_commander.alerts.intake import AlertIntake
from incident_commander.app import Commander
from incident_commander.watch.loop import ProbeLoop
from tests.server import Server
from tests.waiting import until
from tests.workspace import Workspace


class HealthEndpoint:
    """A local ``/health`` that answers 200, or 500 while ``failing`` is set or at random
    ``fail_rate`` of the time (the draws of a seeded generator, in the order requests come)."""

    def __init__(self, *, fail_rate: float = 0.0, seed: int = 0) -> None:
        self.failing = False
        self.fail_rate = fail_rate
        self.random = random.Random(seed)
        self.answers: list[tuple[float, int]] = []  # (monotonic time, status), in order
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with endpoint.lock:
                    draw = endpoint.random.random()
                    bad = endpoint.failing or draw < endpoint.fail_rate
                    status = 500 if bad else 200
                    endpoint.answers.append((time.monotonic(), status))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no" if bad else b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self, status: int | None = None) -> int:
        with self.lock:
            return sum(1 for _, s in self.answers if status is None or s == status)

    def gaps(self) -> list[float]:
        """Seconds between one request and the next."""
        with self.lock:
            times = [t for t, _ in self.answers]
        return [b - a for a, b in itertools.pairwise(times)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[HealthEndpoint]:
    health = HealthEndpoint()
    yield health
    health.close()


def probed_by(endpoint: HealthEndpoint, probe: dict[str, Any]) -> dict[str, Any]:
    """The ``web`` service's settings: ``probe``, and one health check of ``endpoint``."""
    check = {"name": "health", "kind": "http", "url": endpoint.url, "timeout_seconds": 1}
    return {"probe": probe, "health_checks": [check]}


class Probing:
    """``ic serve``'s probe loop, in this process, on the workspace's store."""

    def __init__(self, ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("IC_DATABASE_URL", ws.database_url)
        self.commander = Commander.from_config(ws.root / "ic.yaml")
        self.engine = self.commander.engine
        self.loop = ProbeLoop(self.commander.settings.services, AlertIntake(self.engine))

    def incidents(self) -> list[str]:
        return [row.id for row in self.engine.list_incidents()]

    def close(self) -> None:
        self.loop.stop()
        self.commander.close()


@pytest.fixture
def probing(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    started: list[Probing] = []

    def start() -> Probing:
        started.append(Probing(workspace, monkeypatch))
        return started[-1]

    yield start
    for loop in started:
        loop.close()


def test_a_deploy_just_before_a_failure_is_detected_with_the_after_deploy_thresholds(
    tmp_path: Path,
) -> None:
    root = tmp_path / "serve"
    root.mkdir()
    ws = Workspace(root, f"sqlite:///{root / 'ic.db'}")
    ws.configure(
        service_extra={
            "probe": {
                "interval_seconds": 1,
                "failure_threshold": 4,
                "after_deploy": {
                    "window_seconds": 120,
                    "interval_seconds": 0.1,
                    "failure_threshold": 2,
                },
            }
        }
    )
    (root / "current").unlink()
    (root / "current").symlink_to("releases/v1")
    ws.start()
    server = Server(root, ws.env)
    try:
        deploy = server.post("/api/v1/deployments", {"service": "web", "version": "v2"})
        assert deploy.status_code == 201, deploy.text
        (root / "current").unlink()
        (root / "current").symlink_to("releases/v2")  # v2 answers 500 on /health
        ws.stop()
        ws.start()
        rows = server.wait_for("/api/v1/incidents", lambda r: len(r) == 1, timeout=60)
        incident = server.client.get(f"/api/v1/incidents/{rows[0]['id']}").json()
    finally:
        log = server.stop()
        ws.stop()
    since = f"since deploy v2 at {deploy.json()['deployed_at'][:19]}Z"
    pace = f"deploy-aware probing: every 0.1 s, 2 in a row, {since}"
    declared = next(e for e in incident["timeline"] if e["kind"] == "incident.declared")
    assert pace in declared["message"], declared
    assert pace in incident["title"]
    assert incident["suspect_deploy"] == "v2"
    intake_log = ws.read(incident["id"], "incident-intake-log.md")
    assert '"consecutive_failures": "2"' in intake_log
    assert f'"probing": "{pace}"' in intake_log
    timeline = ws.read(incident["id"], "incident-timeline.md")
    assert pace in timeline
    assert "Traceback" not in log


def slow(gaps: list[float]) -> bool:
    return len(gaps) == 2 and min(gaps) >= 0.45


def test_after_the_window_the_normal_thresholds_apply_again(
    workspace: Workspace, endpoint: HealthEndpoint, probing: Any
) -> None:
    workspace.configure(
        service_extra=probed_by(
            endpoint,
            {
                "interval_seconds": 0.5,
                "failure_threshold": 3,
                "after_deploy": {
                    "window_seconds": 2,
                    "interval_seconds": 0.05,
                    "failure_threshold": 2,
                },
            },
        )
    )
    loop = probing()
    loop.loop.start()
    until(lambda: endpoint.count() >= 1, "the first probe")
    window_ends = time.monotonic() + 2
    loop.engine.record_deploy(service="web", version="v2")
    # Fast while the window lasts, then back to one request every 0.5 s.
    until(lambda: any(g < 0.3 for g in endpoint.gaps()), "the after-deploy pace")
    until(
        lambda: slow(endpoint.gaps()[-2:]) and endpoint.answers[-3][0] > window_ends,
        "the normal pace again, after the window",
        within=30,
    )
    endpoint.failing = True
    until(lambda: loop.incidents(), "an incident opened by the probe")
    [incident] = loop.incidents()
    [alert] = loop.engine.alerts_of(incident)
    assert alert.annotations["consecutive_failures"] == "3"
    assert alert.annotations["probing"] == "probing: every 0.5 s, 3 in a row"
    record = loop.engine.record(incident)
    assert "deploy-aware" not in record.incident.title
    assert not [e for e in record.events if "deploy-aware" in e.message]
    assert record.suspect_deploy is not None and record.suspect_deploy.version == "v2"


# The seed's draws, in request order, hold failures two in a row (which a streak of 2 without
# rechecks turns into an incident) but never four (a streak of 2 rounds each rechecked once).
SEED = 26


@pytest.mark.parametrize("rechecks", [1, 0], ids=["rechecked", "no-recheck"])
def test_flaky_probes_over_healthy_deploys_open_no_incident_when_failures_are_rechecked(
    workspace: Workspace, probing: Any, rechecks: int
) -> None:
    endpoint = HealthEndpoint(fail_rate=0.05, seed=SEED)
    try:
        workspace.configure(
            service_extra=probed_by(
                endpoint,
                {
                    "interval_seconds": 0.5,
                    "failure_threshold": 3,
                    "after_deploy": {
                        "window_seconds": 300,
                        "interval_seconds": 0.01,
                        "failure_threshold": 2,
                        "rechecks": rechecks,
                    },
                },
            )
        )
        loop = probing()
        loop.loop.start()
        for n in range(5):  # five healthy deploys, each probed ~25 times at the fast pace
            loop.engine.record_deploy(service="web", version=f"v{n + 10}")
            target = endpoint.count() + 25
            until(lambda t=target: endpoint.count() >= t or loop.incidents(), f"deploy {n} probed")
        loop.loop.stop()
    finally:
        endpoint.close()
    if rechecks:
        assert endpoint.count(500) >= 5  # the probe really is flaky
        assert loop.incidents() == []
    else:  # the same draws, each failure counted at once: a false incident
        [incident] = loop.incidents()
        [alert] = loop.engine.alerts_of(incident)
        assert alert.annotations["consecutive_failures"] == "2"
        assert alert.annotations["probing"].startswith("deploy-aware probing: every 0.01 s, 2 in")
