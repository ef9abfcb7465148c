"""Faults: what a poisoned delivery, a killed rollback, a race, an edit or a long uptime cost.

Every figure comes from real processes: `ic serve` on a free port, `ic execute` and `ic run`
started as a user would start them, killed with SIGKILL, raced against each other. Each
scenario gets a fresh store (a SQLite file, or a database created on the PostgreSQL server
given by ``--database-url`` and dropped afterwards):

1. poisoned concurrent deliveries: single-alert deliveries from 12 connections, every tenth
   carrying a value the store cannot hold; the good ones must all be answered 2xx and belong to
   an incident afterwards, the bad ones answered 422, nothing 5xx;
2. ``ic execute`` killed at a random point of a slow rollback script (its work done by a child
   process, as rollback scripts do); after the lease has expired ``ic execute`` and ``ic run``
   are run again; counted: double runs (an approval whose command ran twice, or two commands
   alive at once), incidents left inconsistent (executing with no owner, or failing
   ``ic evidence verify``), commands still running unseen (a process of the killed command
   alive when the attempt was settled as over);
3. two ``ic execute`` started at once on one approved incident: double runs;
4. the one-row database edits of tests/integration/test_tamper.py, each on a copy of a
   finished incident, re-rendered, then ``ic evidence verify``: how many are detected;
5. the ``deliveries`` table: bytes per alert while answers are kept, and its size once the
   retention window has passed and the prune ran (the one `ic serve` runs every minute, here
   run in-process once the server stopped), over two cycles;
6. schemathesis against `ic serve`'s /openapi.json: 5xx answers and check failures.

It exits 0 when every target holds, 1 otherwise.

Usage: python bench/faults.py [--runs 20] [--deliveries 120] [--alerts 20000] [--requests 400]
                              [--database-url postgresql://user@host:5432/db] [--both]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url

from incident_commander.app import Commander
from incident_commander.config import load_settings
from incident_commander.protocol.severity import Answers
from incident_commander.store.models import Alert, Decision, Execution, Incident

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import IcServer, fresh_database

ROOT = Path(__file__).resolve().parents[1]
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


# -- 1. poisoned concurrent deliveries ----------------------------------------------------------


def poisoned_deliveries(report: Report, root: Path, server_url: str | None, total: int) -> None:
    report.section(f"1. {total} concurrent single-alert deliveries, every tenth poisoned")
    with fresh_database(root, server_url) as url:
        Workspace(root, url)
        server = IcServer(root, url)
        answers: dict[int, int] = {}
        lock = threading.Lock()

        def deliver(numbers: list[int]) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for n in numbers:
                    alert: dict[str, Any] = {
                        "summary": f"checkout error {n}",
                        "service": f"svc{n % 4}",
                        "fingerprint": f"bench-{n}",
                    }
                    if n % 10 == 0:
                        name, value = BAD_VALUES[(n // 10) % len(BAD_VALUES)]
                        alert[name] = value
                    try:
                        status = client.post("/webhooks/generic", json={"alerts": [alert]})
                        code = status.status_code
                    except httpx.TransportError:
                        code = 0
                    with lock:
                        answers[n] = code

        threads = [
            threading.Thread(target=deliver, args=(list(range(k, total, 12)),)) for k in range(12)
        ]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        server.stop()
        engine = sql_engine(url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(select(Alert.summary, Alert.incident_id)).all()
        finally:
            engine.dispose()
    owned = {summary for summary, incident in rows if incident}
    good = [n for n in range(total) if n % 10]
    bad = [n for n in range(total) if n % 10 == 0]
    report.add("deliveries (good / poisoned)", f"{len(good)} / {len(bad)} in {elapsed:.1f} s")
    report.count("good answered 2xx", sum(200 <= answers[n] < 300 for n in good), len(good))
    report.count("good ones lost", sum(f"checkout error {n}" not in owned for n in good))
    report.count("poisoned answered 422", sum(answers[n] == 422 for n in bad), len(bad))
    report.count("5xx answers", sum(code >= 500 for code in answers.values()))
    report.count("no answer at all", sum(code == 0 for code in answers.values()))


# -- 2. SIGKILL of ic execute -------------------------------------------------------------------


def _where(ws: Workspace, incident: str) -> str:
    """Where a kill landed: before the claim, while the command ran, or after it finished."""
    with ws.commander() as commander, commander.store.session() as session:
        rows = session.scalars(select(Execution).where(Execution.incident_id == incident)).all()
    if not rows:
        return "before the claim"
    if not ws.runs(incident):
        return "before the command"
    if any(row.status == "succeeded" and row.finished_at for row in rows):
        return "after the command"
    return "during the command"


def killed_executes(
    report: Report, root: Path, server_url: str | None, runs: int, rng: random.Random
) -> None:
    report.section(f"2. ic execute killed (SIGKILL) at a random point of a slow rollback x {runs}")
    twice = together = inconsistent = unseen = seen_running = 0
    landed: dict[str, int] = {}
    with fresh_database(root, server_url) as url:
        ws = Workspace(root, url, sleep=WORK_SECONDS)
        with Overlaps(ws.tag) as overlaps:
            for _ in range(runs):
                incident = ws.approved_incident()
                ws.work(WORK_SECONDS)
                owner = ws.start("execute", incident)
                delay = rng.uniform(0.3, WORK_SECONDS + 2.0)
                try:
                    owner.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    owner.send_signal(signal.SIGKILL)
                owner.communicate()
                where = _where(ws, incident) if owner.returncode == -9 else "after it exited"
                landed[where] = landed.get(where, 0) + 1
                left = set(commands_alive(ws.tag).values())
                time.sleep(LEASE_SECONDS + 0.3)  # the lease has expired
                again = ws.ic("execute", incident)
                deadline = time.monotonic() + 30
                while "is still running" in again.stderr and time.monotonic() < deadline:
                    seen_running += 1
                    time.sleep(0.5)
                    again = ws.ic("execute", incident)
                if left & set(commands_alive(ws.tag).values()):
                    unseen += 1
                    print(
                        f"    {incident}: killed {delay:.1f} s in; the attempt was settled "
                        f"(exit {again.returncode}) while its command's processes still ran",
                        flush=True,
                    )
                ws.work(0.2)  # the next approval's run need not be slow
                ws.ic("run", incident)
                stop_leftovers(ws.tag)
                twice += ws.double_runs(incident)
                together += min(1, overlaps.reset())
                why = ws.inconsistent(incident)
                if why:
                    inconsistent += 1
                    print(f"    {incident}: {why}", flush=True)
    report.add("where the kills landed", ", ".join(f"{k}: {v}" for k, v in sorted(landed.items())))
    report.add("re-runs told the command still runs", seen_running)
    report.count("double runs: an approval's command run twice", twice)
    report.count("double runs: two commands alive at once", together)
    report.count("incidents left inconsistent", inconsistent)
    report.count("commands still running unseen", unseen)


# -- 3. two replicas racing ---------------------------------------------------------------------


def racing_executes(report: Report, root: Path, server_url: str | None, runs: int) -> None:
    report.section(f"3. two ic execute started at once on one approved incident x {runs}")
    double = 0
    outcomes: dict[str, int] = {}
    with fresh_database(root, server_url) as url:
        ws = Workspace(root, url, sleep=0.5)
        with Overlaps(ws.tag) as overlaps:
            for _ in range(runs):
                incident = ws.approved_incident()
                racers = [ws.start("execute", incident) for _ in range(2)]
                for racer in racers:
                    racer.communicate(timeout=120)
                codes = "/".join(str(c) for c in sorted(r.returncode for r in racers))
                outcomes[codes] = outcomes.get(codes, 0) + 1
                double += ws.double_runs(incident) + min(1, overlaps.reset())
                stop_leftovers(ws.tag)
    report.add(
        "exit codes of the pair", ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
    )
    report.count("double runs", double)


# -- 4. one-row database edits ------------------------------------------------------------------


JSON_COLUMNS = {
    "assessment": (
        "SELECT assessment FROM incidents WHERE id = :i",
        "UPDATE incidents SET assessment = :v WHERE id = :i",
    ),
    "validation": (
        "SELECT validation FROM incidents WHERE id = :i",
        "UPDATE incidents SET validation = :v WHERE id = :i",
    ),
}


class Copy:
    """A copy of a finished incident's workspace on its own store; the test cases edit it."""

    def __init__(self, root: Path, incident: str, url: str) -> None:
        self.root = root
        self.incident = incident
        self.url = url

    @property
    def id(self) -> str:
        return self.incident

    @property
    def evidence(self) -> Path:
        return self.root / ".artifacts" / "incidents" / self.incident

    def ic(self, *args: str) -> subprocess.CompletedProcess[str]:
        return ic(*args, cwd=self.root, env={"IC_EVIDENCE_KEY": EVIDENCE_KEY})

    def sql(self, statement: str, **params: Any) -> Any:
        engine = sql_engine(self.url)
        try:
            with engine.begin() as connection:
                result = connection.execute(text(statement), params)
                return result.scalar_one() if result.returns_rows else None
        finally:
            engine.dispose()

    def edit_json(self, column: str, change: Callable[[dict[str, Any]], None]) -> None:
        read, write = JSON_COLUMNS[column]
        value = self.sql(read, i=self.id)
        value = json.loads(value) if isinstance(value, str) else value
        change(value)
        self.sql(write, v=json.dumps(value), i=self.id)

    def rerender(self) -> None:
        """Bring the folder in line with the (edited) store, as the tool itself would."""
        commander = Commander(load_settings(self.root / "ic.yaml"))
        try:
            commander.engine.sync(self.incident)
        finally:
            commander.close()
        self.ic("report", self.incident)


@contextmanager
def copied_workspace(finished: Path, root: Path, server_url: str | None) -> Iterator[str]:
    """A copy of the finished workspace (folder and store); yields the copy's store URL."""
    shutil.copytree(finished, root, symlinks=True)
    config = yaml.safe_load((root / "ic.yaml").read_text())
    source = make_url(config["database_url"])
    if server_url is None:
        url = f"sqlite:///{root / 'ic.db'}"
        config["database_url"] = url
        (root / "ic.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        yield url
        return
    name = f"ic_bench_{uuid.uuid4().hex[:12]}"
    admin = sql_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    try:
        url = source.set(database=name).render_as_string(hide_password=False)
        config["database_url"] = url
        (root / "ic.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def tamper_cases() -> dict[str, tuple[Callable[[Any], None], str]]:
    """The one-row database edits the tamper tests apply (tests/integration/test_tamper.py)."""
    sys.path.insert(0, str(ROOT))
    from tests.integration.test_tamper import DATABASE_EDITS

    return dict(DATABASE_EDITS)


def database_edits(report: Report, root: Path, server_url: str | None) -> None:
    cases = tamper_cases()
    report.section(f"4. one-row database edits, re-rendered, then verified: {len(cases)} cases")
    finished = root / "finished"
    with fresh_database(finished, server_url) as url:
        ws = Workspace(finished, url, option="switch-release", sleep=0)
        key = {"IC_EVIDENCE_KEY": EVIDENCE_KEY}
        incident = ws.approved_incident()
        for step in (("execute", incident), ("validate", incident, "--yes", "--as", "on-call")):
            done = ws.ic(*step, **key)
            if done.returncode != 0:
                raise RuntimeError(f"ic {' '.join(step)}: {done.stdout}{done.stderr}")
        if ws.ic("evidence", "verify", incident, **key).returncode != 0:
            raise RuntimeError("the finished incident does not verify before any edit")
        detected = named = 0
        for number, (case, (edit, expected)) in enumerate(sorted(cases.items())):
            with copied_workspace(finished, root / f"copy-{number}", server_url) as copy_url:
                copy = Copy(root / f"copy-{number}", incident, copy_url)
                edit(copy)
                copy.rerender()
                verify = copy.ic("evidence", "verify", incident, "--json")
                problems = json.loads(verify.stdout).get("problems", []) if verify.stdout else []
            caught = verify.returncode == 6
            detected += caught
            named += caught and any(expected in problem for problem in problems)
            if not caught:
                print(f"    not detected: {case}", flush=True)
    report.add("detected", f"{detected} / {len(cases)}", ok=detected == len(cases), target="all")
    report.add("named as the tests expect", f"{named} / {len(cases)}")


# -- 5. database growth ---------------------------------------------------------------------


RETENTION_HOURS = 0.0005  # 1.8 s


def deliveries_bytes(url: str) -> tuple[int, int]:
    """(rows, bytes) of the ``deliveries`` table with its indexes."""
    engine = sql_engine(url)
    try:
        with engine.connect() as connection:
            rows = int(connection.execute(text("SELECT count(*) FROM deliveries")).scalar_one())
            if engine.dialect.name == "postgresql":
                size = connection.execute(text("SELECT pg_total_relation_size('deliveries')"))
            else:
                size = connection.execute(
                    text(
                        "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN "
                        "(SELECT name FROM sqlite_master WHERE tbl_name = 'deliveries')"
                    )
                )
            return rows, int(size.scalar_one())
    finally:
        engine.dispose()


def vacuum(url: str) -> None:
    engine = sql_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("VACUUM deliveries"))
    finally:
        engine.dispose()
    print("    VACUUM deliveries (what autovacuum does within a minute)", flush=True)


def post_alerts(server: IcServer, alerts: int, first_new: int) -> tuple[int, int]:
    """Post ``alerts`` in deliveries of 50 (45 from a fixed pool, 5 new); (posted, not 2xx)."""
    posted = failed = 0
    fresh = first_new

    def body(tick: int) -> bytes:
        nonlocal fresh
        pool = [(tick * 45 + i) % 500 for i in range(45)]
        new = list(range(fresh, fresh + 5))
        fresh += 5
        return json.dumps(
            {
                "alerts": [
                    {
                        "summary": f"alert {n}",
                        "service": f"svc{n % 10}",
                        "fingerprint": f"growth-{n}",
                        "labels": {"alertname": f"Growth{n}", "team": "checkout"},
                    }
                    for n in pool + new
                ]
            }
        ).encode()

    with httpx.Client(base_url=server.url, timeout=60) as client:
        for tick in range(max(1, alerts // 50)):
            answer = client.post(
                "/webhooks/generic",
                content=body(tick),
                headers={"Content-Type": "application/json"},
            )
            posted += 50
            failed += not answer.is_success
    return posted, failed


def prune(root: Path) -> int:
    from incident_commander.alerts.intake import AlertIntake

    commander = Commander(load_settings(root / "ic.yaml"))
    try:
        return AlertIntake(commander.engine).prune_deliveries()
    finally:
        commander.close()


def growth(report: Report, root: Path, server_url: str | None, alerts: int) -> None:
    report.section(
        f"5. the deliveries table: {alerts} alerts per cycle, retention "
        f"{RETENTION_HOURS * 3600:g} s, pruned after each cycle"
    )
    with fresh_database(root, server_url) as url:
        Workspace(root, url)
        config = yaml.safe_load((root / "ic.yaml").read_text())
        config["alerts"] = {"delivery_retention_hours": RETENTION_HOURS}
        (root / "ic.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        kept: list[int] = []
        left: list[int] = []
        per_alert: list[float] = []
        failed = remaining = 0
        for cycle in range(2):
            server = IcServer(root, url)
            _, before = deliveries_bytes(url)
            posted, bad = post_alerts(server, alerts, 1000 + cycle * alerts)
            failed += bad
            server.stop()
            rows, size = deliveries_bytes(url)
            kept.append(size)
            per_alert.append((size - before) / posted)
            time.sleep(RETENTION_HOURS * 3600 + 0.5)
            pruned = prune(root)
            rows_after, size_after = deliveries_bytes(url)
            left.append(size_after)
            remaining += rows_after
            print(
                f"    cycle {cycle + 1}: {rows} answers, {size:,} bytes kept; "
                f"pruned {pruned}; {rows_after} left, {size_after:,} bytes",
                flush=True,
            )
            if server_url is not None:
                # PostgreSQL reuses the space of deleted rows once vacuumed; autovacuum does it
                # within a minute of the prune, here it is run at once.
                vacuum(url)
    report.count("answers left after the retention window", remaining)
    report.count("deliveries not answered 2xx", failed)
    report.add(
        "bytes per alert while kept (cycle 1, 2)",
        ", ".join(f"{value:.0f}" for value in per_alert) + "  (the docs say about 130)",
    )
    report.add("MB per million alerts while kept", f"{per_alert[0]:.0f}")
    report.add("table bytes after each prune", ", ".join(f"{size:,}" for size in left))
    bounded = kept[1] <= kept[0] * 1.25
    report.add(
        "bytes kept, cycle 2 / cycle 1",
        f"{kept[1] / kept[0]:.2f}",
        ok=bounded,
        target="<= 1.25: the space is reused",
    )


# -- 6. schemathesis ---------------------------------------------------------------------------


def contract(report: Report, root: Path, server_url: str | None, requests: int) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    with fresh_database(root, server_url) as url:
        Workspace(root, url)
        server = IcServer(root, url)
        try:
            schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
            operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
            modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            examples = max(1, requests // (len(operations) * len(modes)))
            report.section(
                f"6. schemathesis on /openapi.json: {len(operations)} operations x "
                f"{len(modes)} modes x {examples} examples"
            )
            counts = {"requests": 0, "5xx": 0, "failures": 0}
            failures: list[str] = []

            def exercise(case: Any, label: str) -> None:
                response = case.call()
                counts["requests"] += 1
                counts["5xx"] += response.status_code >= 500
                try:
                    case.validate_response(response, checks=checks)
                except (Exception, BaseExceptionGroup) as exc:
                    counts["failures"] += 1
                    failures.append(f"{label}: {' '.join(str(exc).split())[:300]}")

            def calling(label: str) -> Callable[[Any], None]:
                return lambda case: exercise(case, label)

            for operation in operations:
                for mode in modes:
                    label = operation.label
                    run = settings(
                        max_examples=examples,
                        deadline=None,
                        derandomize=True,
                        database=None,
                        phases=[Phase.explicit, Phase.generate],
                        suppress_health_check=list(HealthCheck),
                    )(given(case=operation.as_strategy(generation_mode=mode))(calling(label)))
                    try:
                        run()
                    except Unsatisfiable:  # nothing to send in this mode (no parameters)
                        pass
        finally:
            log = root / "serve.log"
            server.stop()
    for failure in sorted(set(failures))[:5]:
        print(f"    {failure}", flush=True)
    report.add("requests", counts["requests"])
    report.count("5xx answers", counts["5xx"])
    report.count("check failures", counts["failures"])
    report.count("tracebacks in the server log", log.read_text().count("Traceback"))


# -- main ----------------------------------------------------------------------------------------


def run_all(args: argparse.Namespace, server_url: str | None) -> Report:
    store = "PostgreSQL" if server_url else "SQLite"
    report = Report(store)
    rng = random.Random(args.seed)
    began = time.monotonic()
    scenarios: list[tuple[str, Callable[[Path], None]]] = [
        ("poison", lambda r: poisoned_deliveries(report, r, server_url, args.deliveries)),
        ("kill", lambda r: killed_executes(report, r, server_url, args.runs, rng)),
        ("race", lambda r: racing_executes(report, r, server_url, args.runs)),
        ("tamper", lambda r: database_edits(report, r, server_url)),
        ("growth", lambda r: growth(report, r, server_url, args.alerts)),
        ("contract", lambda r: contract(report, r, server_url, args.requests)),
    ]
    for name, scenario in scenarios:
        if args.only and name not in args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            scenario(Path(tmp) / "ws")
    print(f"\n[{store}] {time.monotonic() - began:.0f} s", flush=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="kills, and races (default 20)")
    parser.add_argument("--deliveries", type=int, default=120, help="poisoned-delivery scenario")
    parser.add_argument("--alerts", type=int, default=20_000, help="alerts per growth cycle")
    parser.add_argument("--requests", type=int, default=400, help="schemathesis requests")
    parser.add_argument("--seed", type=int, default=1, help="where the kills land")
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server (default: SQLite)"
    )
    parser.add_argument(
        "--both", action="store_true", help="SQLite, then PostgreSQL (--database-url or default)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=["poison", "kill", "race", "tamper", "growth", "contract"],
        help="run only this scenario (repeatable)",
    )
    args = parser.parse_args()
    if args.both:
        stores = [None, args.database_url or DEFAULT_POSTGRES]
    else:
        stores = [args.database_url]
    reports = [run_all(args, store) for store in stores]
    print()
    missed = [(r.store, f) for r in reports for f in r.missed]
    for store, figure in missed:
        print(f"MISSED [{store}] {figure.label}: {figure.value} (target {figure.target})")
    if not missed:
        held = sum(1 for r in reports for f in r.figures if f.ok)
        print(f"every target held ({held} figures)")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
