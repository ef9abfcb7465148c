"""A real `ic serve` process on a free loopback port, for HTTP tests."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.conftest import ic_path
from tests.workspace import free_port

T = TypeVar("T")


class Server:
    """Starts `ic serve` in ``root`` and stops it; ``client`` talks to it."""

    def __init__(self, root: Path, env: dict[str, str], *args: str) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "serve.log"
        full_env = {**os.environ, "NO_COLOR": "1", **env}
        full_env.pop("IC_CONFIG", None)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [ic_path(), "serve", "--port", str(self.port), *args],
                cwd=root,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.client = httpx.Client(base_url=self.url, timeout=30)
        deadline = time.monotonic() + 120  # a loaded machine starts a server slowly
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ic serve exited: {self.log.read_text()}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"ic serve did not answer: {self.log.read_text()}")

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, json=body, **kwargs)

    def wait_for(self, path: str, predicate: Any, timeout: float = 30) -> Any:
        """Poll a GET until ``predicate(json)`` holds; return that JSON."""
        deadline = time.monotonic() + timeout
        data = None
        while time.monotonic() < deadline:
            data = self.client.get(path).json()
            if predicate(data):
                return data
            time.sleep(0.1)
        raise AssertionError(f"{path} never satisfied the condition; last: {data}")

    @staticmethod
    def eventually(check: Callable[[], T], timeout: float = 15) -> T:
        """Retry ``check`` until it passes: the server writes evidence files after it answers."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return check()
            except (AssertionError, OSError, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> str:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.log.read_text()


def am_alert(
    name: str = "ServiceDown",
    service: str | None = "web",
    status: str = "firing",
    starts: str = "2026-11-23T03:00:00Z",
    **labels: str,
) -> dict[str, Any]:
    base = {"alertname": name, "severity": "critical", **labels}
    if service:
        base["service"] = service
    alert: dict[str, Any] = {
        "status": status,
        "labels": base,
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
    }
    if status == "resolved":
        alert["endsAt"] = "2026-11-23T03:30:00Z"
    return alert


def am_payload(*alerts: dict[str, Any], status: str = "firing", **extra: Any) -> dict[str, Any]:
    return {
        "version": "4",
        "receiver": "ic",
        "status": status,
        "alerts": list(alerts),
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        **extra,
    }
