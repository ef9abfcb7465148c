"""What every fault scenario shares: figures, the report, processes, a workspace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine, make_url

from incident_commander.app import Commander
from incident_commander.config import load_settings
from incident_commander.protocol.severity import Answers
from incident_commander.store.models import Decision, Execution, Incident

ROOT = Path(__file__).resolve().parents[2]  # the repository
IC = str(Path(sys.executable).parent / "ic")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
LEASE_SECONDS = 0.5
WORK_SECONDS = 5.0  # how long the slow rollback's work takes: longer than the lease
EVIDENCE_KEY = "bench-faults-key"
TAG = "IC_BENCH_FAULTS"

# The slow rollback: it records that it ran, then its work runs in a child process (as a
# rollback script's `kubectl` or `curl` would), then it reports.
SLOW_SH = """#!/usr/bin/env bash
here="$(cd "$(dirname "$0")/.." && pwd)"
echo "$1 $(date +%s.%N)" >> "$here/ran"
sleep "$(cat "$here/work-seconds")"
echo "rolled back to $2"
"""

BAD_VALUES: list[tuple[str, str]] = [
    ("starts_at", "0001-01-01T00:00:00+01:00"),
    ("starts_at", "9999-12-31T23:59:59-01:00"),
    ("summary", "checkout\x00errors"),
    ("service", "web\x00"),
    ("fingerprint", "abc\x00def"),
]


@dataclass
class Figure:
    label: str
    value: str
    ok: bool | None = None  # None: no target, only a figure
    target: str = ""


@dataclass
class Report:
    store: str
    figures: list[Figure] = field(default_factory=list)

    def section(self, title: str) -> None:
        print(f"\n[{self.store}] {title}", flush=True)

    def add(self, label: str, value: Any, *, ok: bool | None = None, target: str = "") -> None:
        figure = Figure(label, str(value), ok, target)
        self.figures.append(figure)
        mark = {None: "", True: "  ok", False: "  MISSED"}[ok]
        suffix = f"  (target {target})" if target else ""
        print(f"  {label + ':':44} {value}{suffix}{mark}", flush=True)

    def count(self, label: str, value: int, target: int = 0) -> None:
        self.add(label, value, ok=value == target, target=str(target))

    @property
    def missed(self) -> list[Figure]:
        return [f for f in self.figures if f.ok is False]


def ic(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The installed `ic`, run as a user would."""
    full = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    full.pop("IC_CONFIG", None)
    full.pop("IC_DATABASE_URL", None)
    return subprocess.run(
        [IC, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout
    )


def sql_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed)


# -- processes ---------------------------------------------------------------------------------


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, _, v in pairs}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def commands_alive(tag: str) -> dict[int, str]:
    """Processes started by a rollback command of this workspace: pid → the command's run id."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        env = _environ(int(entry.name))
        if env.get(TAG) == tag and "IC_COMMAND_ID" in env and _alive(int(entry.name)):
            found[int(entry.name)] = env["IC_COMMAND_ID"]
    return found


class Overlaps:
    """Watch a workspace's rollback commands; note every moment two of them are alive."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, daemon=True)

    def __enter__(self) -> Overlaps:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _work(self) -> None:
        while not self._stop.wait(0.05):
            if len(set(commands_alive(self.tag).values())) > 1:
                self.seen += 1

    def reset(self) -> int:
        seen, self.seen = self.seen, 0
        return seen


def stop_leftovers(tag: str) -> None:
    """End what the workspace's killed commands left running (found by their tag, by pid)."""
    for pid in commands_alive(tag):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while commands_alive(tag) and time.monotonic() < deadline:
        time.sleep(0.05)


# -- a workspace -------------------------------------------------------------------------------


class Workspace:
    """A folder with an ic.yaml on one store: service web, one script rollback option."""

    def __init__(
        self, root: Path, database_url: str, *, option: str = "slow", sleep: float = 1.5
    ) -> None:
        self.root = root
        self.database_url = database_url
        self.tag = uuid.uuid4().hex
        root.mkdir(parents=True, exist_ok=True)
        (root / "scripts").mkdir(exist_ok=True)
        script = root / "scripts" / "slow.sh"
        script.write_text(SLOW_SH)
        self.work(sleep)
        script.chmod(0o755)
        config = {
            "database_url": database_url,
            "validation": {"window_seconds": 0.3, "interval_seconds": 0.1, "threshold": 0.95},
            "services": {
                "web": {
                    "health_checks": [{"name": "up", "kind": "command", "argv": ["true"]}],
                    "rollback_options": [
                        {
                            "name": option,
                            "kind": "script",
                            "argv": ["scripts/slow.sh", "{incident_id}", "{release}"],
                            "timeout_seconds": 60,
                        }
                    ],
                }
            },
            "notifications": [
                {"name": "inbox", "kind": "file", "path": "inbox.log", "audience": "on-call"}
            ],
            "policies": [{"name": "auto", "approves": ["mitigation"], "services": ["web"]}],
        }
        (root / "ic.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        with self.commander() as commander:
            engine = commander.engine
            engine.record_deploy(
                service="web",
                version="v1",
                commit="aaa111",
                deployed_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
            engine.record_deploy(service="web", version="v2", commit="bbb222")

    def work(self, seconds: float) -> None:
        """How long the rollback's work takes from now on."""
        (self.root / "work-seconds").write_text(f"{seconds}\n")

    @contextmanager
    def commander(self) -> Iterator[Commander]:
        commander = Commander(load_settings(self.root / "ic.yaml"))
        try:
            yield commander
        finally:
            commander.close()

    @property
    def env(self) -> dict[str, str]:
        return {TAG: self.tag, "IC_EXECUTION_LEASE_SECONDS": str(LEASE_SECONDS)}

    def ic(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return ic(*args, cwd=self.root, env={**self.env, **env})

    def start(self, *args: str) -> subprocess.Popen[str]:
        full = {**os.environ, **self.env, "COLUMNS": "200", "NO_COLOR": "1"}
        full.pop("IC_CONFIG", None)
        full.pop("IC_DATABASE_URL", None)
        return subprocess.Popen(
            [IC, *args],
            cwd=self.root,
            env=full,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def approved_incident(self) -> str:
        """A new incident whose mitigation a policy approved (set up in-process, quickly)."""
        with self.commander() as commander:
            engine = commander.engine
            incident = engine.declare(
                title="checkout returns 500",
                service="web",
                source="monitoring-alert",
                detected_by="alertmanager",
                symptoms=["HTTP 500 on /health"],
            )
            engine.assess(
                incident, Answers(production_affected=True, outage=True), assessed_by="on-call"
            )
            engine.answer(incident, yes=True, approver="on-call", kind="severity")
            engine.plan(incident)
        return incident

    def runs(self, incident: str) -> list[float]:
        """When the rollback command of ``incident`` started, once per run (from its marker)."""
        path = self.root / "ran"
        if not path.exists():
            return []
        lines = [line.split() for line in path.read_text().splitlines()]
        return [float(parts[1]) for parts in lines if len(parts) == 2 and parts[0] == incident]

    def approvals(self, incident: str) -> list[float]:
        """When each mitigation approval of ``incident`` was given (epoch seconds)."""
        with self.commander() as commander, commander.store.session() as session:
            times = session.scalars(
                select(Decision.answered_at).where(
                    Decision.incident_id == incident,
                    Decision.kind == "mitigation",
                    Decision.answer == "yes",
                )
            ).all()
        return sorted(t.replace(tzinfo=t.tzinfo or UTC).timestamp() for t in times if t)

    def double_runs(self, incident: str) -> int:
        """Runs beyond one per approval (a run before any approval counts too)."""
        approvals = self.approvals(incident)
        per: dict[int, int] = {}
        for started in self.runs(incident):
            index = sum(1 for at in approvals if at <= started + 0.05) - 1
            per[index] = per.get(index, 0) + 1
        return sum(n - 1 for n in per.values() if n > 1) + per.get(-1, 0)

    def inconsistent(self, incident: str) -> str | None:
        """Why the incident's record is not in a settled, verifiable state, or ``None``."""
        with self.commander() as commander, commander.store.session() as session:
            status = session.scalar(select(Incident.status).where(Incident.id == incident))
            started = session.scalars(
                select(Execution).where(
                    Execution.incident_id == incident, Execution.status == "started"
                )
            ).all()
            stale = [row for row in started if not _owner_alive(row.owner)]
        if status == "executing" and (not started or stale):
            return f"status executing, {len(started)} started execution(s), {len(stale)} ownerless"
        if stale:
            return f"{len(stale)} execution(s) started by a gone owner, status {status}"
        verify = self.ic("evidence", "verify", incident)
        if verify.returncode != 0:
            return f"ic evidence verify exited {verify.returncode}: {verify.stdout.strip()[:200]}"
        return None


def _owner_alive(owner: str) -> bool:
    _, _, pid = owner.rpartition(":")
    return pid.isdigit() and _alive(int(pid))
