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
                              [--edits N]
                              [--database-url postgresql://user@host:5432/db] [--both]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from faultbench.common import DEFAULT_POSTGRES, Report
from faultbench.executions import killed_executes, racing_executes
from faultbench.intake import growth, poisoned_deliveries
from faultbench.record import contract, database_edits

sys.path.insert(0, str(Path(__file__).resolve().parent))


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
        ("tamper", lambda r: database_edits(report, r, server_url, args.edits)),
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
    parser.add_argument(
        "--edits", type=int, default=None, help="database edits to try (default: all 15)"
    )
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
