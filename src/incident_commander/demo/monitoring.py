"""Real Prometheus and Alertmanager (Debian's packages) on loopback ports.

Used by the end-to-end tests and the ingest benchmark; nothing here is a stand-in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from incident_commander.demo.scenario import free_port

PACKAGES = {"prometheus": "prometheus", "prometheus-alertmanager": "prometheus-alertmanager"}


def ensure_installed() -> str | None:
    """Install the Debian packages when they are missing; return why that is impossible."""
    missing = [pkg for binary, pkg in PACKAGES.items() if shutil.which(binary) is None]
    if not missing:
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"needs {', '.join(missing)} (Debian packages) and root to install them"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
        timeout=900,
    )
    return None


class Process:
    """A background process with its log; ``stop`` ends it."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{url} never became ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_alertmanager(root: Path, webhook_url: str | None) -> tuple[Process, str]:
    """Alertmanager routing every alert to ``webhook_url`` (nowhere when ``None``)."""
    port = free_port()
    receiver: dict[str, object] = {"name": "ic"}
    if webhook_url is not None:
        receiver["webhook_configs"] = [{"url": webhook_url, "send_resolved": True}]
    config = {
        "route": {
            "receiver": "ic",
            "group_by": ["alertname", "service"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [receiver],
    }
    (root / "alertmanager.yml").write_text(yaml.safe_dump(config))
    (root / "am-data").mkdir(exist_ok=True)
    process = Process(
        [
            "prometheus-alertmanager",
            f"--config.file={root / 'alertmanager.yml'}",
            f"--storage.path={root / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        root / "alertmanager.log",
    )
    url = f"http://127.0.0.1:{port}"
    process.wait_ready(f"{url}/-/ready")
    return process, url


def start_prometheus(root: Path, target: str, alertmanager: str, service: str) -> Process:
    """Prometheus scraping ``target`` every second; ServiceDown fires when the scrape fails."""
    port = free_port()
    rules = {
        "groups": [
            {
                "name": "ic-e2e",
                "rules": [
                    {
                        "alert": "ServiceDown",
                        "expr": 'up{job="app"} == 0',
                        "for": "0s",
                        "labels": {"severity": "critical"},
                        "annotations": {"summary": "the app's scrape fails"},
                    }
                ],
            }
        ]
    }
    (root / "rules.yml").write_text(yaml.safe_dump(rules))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
        "rule_files": [str(root / "rules.yml")],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [alertmanager.removeprefix("http://")]}]}
            ]
        },
        "scrape_configs": [
            {
                "job_name": "app",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [target], "labels": {"service": service}}],
            }
        ],
    }
    (root / "prometheus.yml").write_text(yaml.safe_dump(config))
    process = Process(
        [
            "prometheus",
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s",
        ],
        root / "prometheus.log",
    )
    process.wait_ready(f"http://127.0.0.1:{port}/-/ready")
    return process
