"""Faults in a rollback: its owner killed mid-run, and two owners racing."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import select

from faultbench.common import (
    LEASE_SECONDS,
    WORK_SECONDS,
    Overlaps,
    Report,
    Workspace,
    commands_alive,
    stop_leftovers,
)
from incident_commander.store.models import Execution
from ingest import fresh_database

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
                while "still running" in again.stderr and time.monotonic() < deadline:
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
