"""False positives of deploy-aware probing: healthy deploys, a probe that fails at random.

A local HTTP service answers 500 to a share of requests chosen at random (5% by default, from
a seeded generator) and 200 to the rest: it is healthy, its health check is flaky. `ic serve`'s
probe loop watches it on a fresh SQLite store with deploy-aware probing; a deploy is recorded,
the service is watched for the whole after-deploy window, and so on for each deploy. Every
incident opened is a false positive. Used by ``bench/demo_speed.py --healthy-deploys N``.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from incident_commander.alerts.intake import AlertIntake
from incident_commander.app import Commander
from incident_commander.config import load_settings
from incident_commander.watch.loop import ProbeLoop

__all__ = ["FlakyRun", "healthy_deploys"]


class FlakyService:
    """``/health`` failing ``fail_rate`` of the requests at random; counts what it answered."""

    def __init__(self, fail_rate: float, seed: int) -> None:
        self.draws = random.Random(seed)
        self.fail_rate = fail_rate
        self.answered = 0
        self.failed = 0
        self.lock = threading.Lock()
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with flaky.lock:
                    bad = flaky.draws.random() < flaky.fail_rate
                    flaky.answered += 1
                    flaky.failed += bad
                self.send_response(500 if bad else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class FlakyRun:
    """What a run of healthy deploys gave."""

    deploys: int
    window_s: float
    interval_s: float
    failure_threshold: int
    rechecks: int
    requests: int
    failed_requests: int
    incidents: int

    def lines(self) -> list[str]:
        share = self.failed_requests / self.requests if self.requests else 0.0
        return [
            f"healthy deploys: {self.deploys}, each watched {self.window_s:g} s at the "
            f"after-deploy pace (every {self.interval_s:g} s, {self.failure_threshold} in a row, "
            f"{self.rechecks} recheck(s) of a failed round)",
            f"probe requests: {self.requests}, failed at random: {self.failed_requests} "
            f"({share:.1%})",
            f"incidents opened (false positives): {self.incidents} of {self.deploys} deploys",
        ]


def _write_config(folder: Path, url: str, window: float, interval: float, rechecks: int) -> None:
    config = {
        "services": {
            "web": {
                "probe": {
                    "interval_seconds": 0.5,
                    "failure_threshold": 3,
                    "after_deploy": {
                        "window_seconds": window,
                        "interval_seconds": interval,
                        "failure_threshold": 2,
                        "rechecks": rechecks,
                    },
                },
                "health_checks": [
                    {"name": "health", "kind": "http", "url": url, "timeout_seconds": 1}
                ],
            }
        }
    }
    (folder / "ic.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def healthy_deploys(
    deploys: int,
    *,
    window_s: float = 3.0,
    interval_s: float = 0.05,
    rechecks: int = 1,
    fail_rate: float = 0.05,
    seed: int = 1,
) -> FlakyRun:
    """Record ``deploys`` deploys of a healthy, flaky service one window apart; count incidents."""
    flaky = FlakyService(fail_rate, seed)
    pause = threading.Event()  # never set: the bench waits out each window
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _write_config(folder, flaky.url, window_s, interval_s, rechecks)
            settings = load_settings(folder / "ic.yaml")
            settings.database_url = f"sqlite:///{folder / 'ic.db'}"  # never IC_DATABASE_URL's
            commander = Commander(settings)
            loop = ProbeLoop(commander.settings.services, AlertIntake(commander.engine))
            loop.start()
            try:
                for n in range(deploys):
                    commander.engine.record_deploy(service="web", version=f"v{n + 1}")
                    ends = time.monotonic() + window_s
                    while (left := ends - time.monotonic()) > 0:
                        pause.wait(left)
            finally:
                loop.stop()
            incidents = len(commander.engine.list_incidents())
            commander.close()
    finally:
        flaky.close()
    return FlakyRun(
        deploys=deploys,
        window_s=window_s,
        interval_s=interval_s,
        failure_threshold=2,
        rechecks=rechecks,
        requests=flaky.answered,
        failed_requests=flaky.failed,
        incidents=incidents,
    )
