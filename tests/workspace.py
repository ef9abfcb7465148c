"""A real workspace for flow tests: a demo service with good and bad releases, scripts, ic.yaml."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from incident_commander.demo import service
from tests.conftest import run_ic

SCRIPTS = {
    # Each script leaves a marker so a test can prove whether it ran.
    "rollback_ok.sh": """#!/usr/bin/env bash
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
touch "$here/ran-rollback_ok"
release="$2"
ln -sfn "releases/$release" "$here/current.tmp" && mv -Tf "$here/current.tmp" "$here/current"
echo "switched to $release"
exec "$IC_TEST_PYTHON" -m incident_commander.demo.service restart \
  --workdir "$here" --port "$IC_TEST_PORT"
""",
    "hang.sh": """#!/usr/bin/env bash
here="$(cd "$(dirname "$0")/.." && pwd)"
echo ran >> "$here/ran-hang"
sleep 60
""",
    "fail.sh": """#!/usr/bin/env bash
here="$(cd "$(dirname "$0")/.." && pwd)"
touch "$here/ran-fail"
echo "cannot reach the deploy API" >&2
exit 3
""",
    "leak.sh": """#!/usr/bin/env bash
here="$(cd "$(dirname "$0")/.." && pwd)"
touch "$here/ran-leak"
echo "using token $DEPLOY_TOKEN for the rollback"
echo "auth failed for $DEPLOY_TOKEN" >&2
exit 1
""",
    "noop.sh": """#!/usr/bin/env bash
here="$(cd "$(dirname "$0")/.." && pwd)"
touch "$here/ran-noop"
echo "nothing changed"
""",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def script_option(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "script",
        "argv": [f"scripts/{script}", "--release", "{release}"],
        "timeout_seconds": 10,
        **extra,
    }


class Workspace:
    """A folder with releases v1 (good) and v2 (bad), a running service, and an ic.yaml."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.database_url = database_url
        self.port = free_port()
        self.running = False
        for version, healthy in (("v1", True), ("v2", False)):
            folder = root / "releases" / version
            folder.mkdir(parents=True)
            (folder / "release.json").write_text(
                json.dumps({"version": version, "healthy": healthy})
            )
        (root / "scripts").mkdir()
        for name, body in SCRIPTS.items():
            path = root / "scripts" / name
            path.write_text(body)
            path.chmod(0o755)
        (root / "current").symlink_to("releases/v2")

    @property
    def env(self) -> dict[str, str]:
        return {
            "IC_DATABASE_URL": self.database_url,
            "IC_TEST_PYTHON": sys.executable,
            "IC_TEST_PORT": str(self.port),
        }

    def configure(
        self,
        options: list[dict[str, Any]] | None = None,
        *,
        policies: list[dict[str, Any]] | None = None,
        window: float = 1.0,
        service_extra: dict[str, Any] | None = None,
        **top: Any,
    ) -> None:
        restart = [
            sys.executable,
            "-m",
            "incident_commander.demo.service",
            "restart",
            "--workdir",
            str(self.root),
            "--port",
            str(self.port),
        ]
        if options is None:
            options = [{"name": "switch-release", "kind": "release-symlink", "restart": restart}]
        config = {
            "validation": {"window_seconds": window, "interval_seconds": 0.2, "threshold": 0.95},
            "services": {
                "web": {
                    "probe": {"interval_seconds": 0.2, "failure_threshold": 2},
                    "health_checks": [
                        {
                            "name": "health",
                            "kind": "http",
                            "url": f"http://127.0.0.1:{self.port}/health",
                            "timeout_seconds": 1,
                        }
                    ],
                    "rollback_options": options,
                    **(service_extra or {}),
                }
            },
            "notifications": [
                {"name": "inbox", "kind": "file", "path": "inbox.log", "audience": "on-call"}
            ],
            "policies": policies or [],
            **top,
        }
        (self.root / "ic.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    def start(self) -> None:
        service.start(self.root, self.port)
        self.running = True

    def stop(self) -> None:
        if self.running:
            service.stop(self.root)
            self.running = False

    def ic(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **kwargs.pop("env", {})}
        return run_ic(*args, cwd=self.root, env=env, **kwargs)

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result = self.ic(*args, **kwargs)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def declare(self, title: str = "checkout returns 500") -> str:
        self.ok(
            "deploy",
            "record",
            "--service",
            "web",
            "--version",
            "v1",
            "--commit",
            "aaa111",
            "--at",
            "2026-01-01T00:00:00Z",
        )
        self.ok("deploy", "record", "--service", "web", "--version", "v2", "--commit", "bbb222")
        result = self.ok(
            "declare",
            "--title",
            title,
            "--service",
            "web",
            "--source",
            "monitoring-alert",
            "--detected-by",
            "alertmanager",
            "--symptom",
            "HTTP 500 on /health",
            "--json",
        )
        return str(json.loads(result.stdout)["incident_id"])

    def evidence(self, incident_id: str) -> Path:
        return self.root / ".artifacts" / "incidents" / incident_id

    def read_json(self, incident_id: str, name: str) -> Any:
        return json.loads((self.evidence(incident_id) / name).read_text())

    def read(self, incident_id: str, name: str) -> str:
        return (self.evidence(incident_id) / name).read_text()

    def ran(self, script: str) -> bool:
        return (self.root / f"ran-{script}").exists()

    def live_release(self) -> str:
        return (self.root / "current").resolve().name
