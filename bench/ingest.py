"""Alert ingest: `ic serve` against a real Alertmanager, side by side, on the same batches.

Both receive the same batches (100 alerts each, from a pool of 1,000 alerts over 20 services,
so the first batches open incidents and later ones repeat) from a few concurrent connections
for the same time. A 2xx from `ic serve` means the alerts are committed to its store.
Then, once the incidents the burst opened have been driven, single-alert posts at a fixed rate
measure `ic serve`'s latency.

Each round starts both receivers afresh, so every round measures the same cold storm; the
rates printed are the medians of the rounds.

With ``--database-url URL`` (a PostgreSQL server, the setting teams run), each round's `ic serve`
gets a fresh database created on that server and dropped afterwards; the default is a fresh
SQLite file.

Usage: python bench/ingest.py [--seconds 5] [--connections 4] [--rate 200] [--rounds 3]
                              [--database-url postgresql://user@host:5432/db]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from incident_commander.demo.monitoring import ensure_installed, start_alertmanager
from incident_commander.demo.scenario import free_port

POOL = 1000
BATCH = 100


def _labels(n: int) -> dict[str, str]:
    return {"alertname": f"BenchAlert{n}", "service": f"svc-{n % 20}", "severity": "warning"}


def label_fingerprint(labels: dict[str, str]) -> str:
    """The fingerprint Alertmanager puts on each webhook alert: FNV-1a 64 over sorted labels."""
    value = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in part:
                value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


FINGERPRINTS = [label_fingerprint(_labels(n)) for n in range(POOL)]


def _batches() -> itertools.cycle[list[int]]:
    return itertools.cycle([list(range(i, i + BATCH)) for i in range(0, POOL, BATCH)])


def ic_body(numbers: list[int], tick: int) -> dict[str, Any]:
    """What Alertmanager's webhook would post for these alerts (fingerprints included)."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "bench",
        "groupKey": f"bench-{tick}",
        "alerts": [
            {
                "status": "firing",
                "labels": _labels(n),
                "annotations": {"summary": f"bench alert {n}"},
                "startsAt": "2026-11-23T03:00:00Z",
                "fingerprint": FINGERPRINTS[n],
            }
            for n in numbers
        ],
    }


def am_body(numbers: list[int], tick: int) -> list[dict[str, Any]]:
    return [
        {
            "labels": _labels(n),
            "annotations": {"summary": f"bench alert {n}"},
            "startsAt": "2026-11-23T03:00:00Z",
            "generatorURL": f"http://bench/{tick}",
        }
        for n in numbers
    ]


def hammer(
    url: str, make: Callable[[list[int], int], Any], seconds: float, connections: int
) -> tuple[int, int]:
    """Post batches from ``connections`` threads for ``seconds``; return (alerts, errors).

    The client is kept light (http.client, keep-alive, C-encoded JSON) so that on a small
    machine it takes as little CPU from the server under test as it can.
    """
    parts = urlsplit(url)
    counts = {"alerts": 0, "errors": 0}
    lock = threading.Lock()
    ticks = itertools.count()
    batches = _batches()
    deadline = time.monotonic() + seconds
    headers = {"Content-Type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                numbers, tick = next(batches), next(ticks)
            try:
                conn.request("POST", parts.path, json.dumps(make(numbers, tick)), headers)
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 300
            except (OSError, http.client.HTTPException):
                conn.close()  # reconnects on the next request
                ok = False
            with lock:
                counts["alerts" if ok else "errors"] += len(numbers) if ok else 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts["alerts"], counts["errors"]


def latency(url: str, rate: float, seconds: float) -> list[float]:
    """Single-alert posts at a fixed rate (open loop); return each latency in ms.

    The client is kept light (http.client, keep-alive, bodies encoded beforehand) so that on a
    small machine it measures the server, not its own scheduling.
    """
    parts = urlsplit(url)
    total = int(rate * seconds)
    bodies = [json.dumps(ic_body([i % POOL], 10_000 + i)).encode() for i in range(total)]
    results: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def send(i: int) -> None:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        began = time.perf_counter()
        local.conn.request("POST", parts.path, bodies[i], {"Content-Type": "application/json"})
        response = local.conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - began) * 1000
        if 200 <= response.status < 300:
            with lock:
                results.append(elapsed)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, i)
    return results


def settle(url: str, timeout: float = 60) -> None:
    """Wait until the incidents the burst opened stop changing (the driver is idle)."""
    previous = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = httpx.get(f"{url}/api/v1/incidents", timeout=30).json()
        if current == previous:
            return
        previous = current
        time.sleep(1)


@contextmanager
def fresh_database(root: Path, server_url: str | None) -> Iterator[str]:
    """An empty store for one round: a SQLite file, or a new database on ``server_url``."""
    if server_url is None:
        yield f"sqlite:///{root / 'ic.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"ic_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class IcServer:
    """A fresh `ic serve` in ``root`` on the store at ``database_url``."""

    def __init__(self, root: Path, database_url: str) -> None:
        root.mkdir(exist_ok=True)
        port = free_port()
        env = {**os.environ, "IC_DATABASE_URL": database_url}
        env.pop("IC_CONFIG", None)
        ic = [str(Path(sys.executable).parent / "ic"), "serve", "--port", str(port), "--no-probes"]
        with (root / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(ic, cwd=root, env=env, stdout=log, stderr=log)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz").is_success:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"ic serve did not start: {(root / 'serve.log').read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def one_round(root: Path, args: argparse.Namespace, measure_latency: bool) -> dict[str, Any]:
    """Both receivers fresh, the same batches for the same time; then, if asked, latency."""
    result: dict[str, Any] = {}
    alertmanager, am_url = start_alertmanager(root, None)
    try:
        result["am"] = hammer(f"{am_url}/api/v2/alerts", am_body, args.seconds, args.connections)
    finally:
        alertmanager.stop()
    with fresh_database(root / "ic", args.database_url) as database_url:
        server = IcServer(root / "ic", database_url)
        try:
            url = f"{server.url}/webhooks/alertmanager"
            result["ic"] = hammer(url, ic_body, args.seconds, args.connections)
            if measure_latency:
                settle(server.url)
                result["latency"] = latency(url, args.rate, args.seconds)
        finally:
            server.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server for ic serve (default: SQLite)"
    )
    args = parser.parse_args()
    problem = ensure_installed()
    if problem:
        print(f"cannot run: {problem}")
        return 2
    rounds = []
    for number in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            rounds.append(one_round(Path(tmp), args, measure_latency=number == args.rounds - 1))
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"batches of {BATCH} alerts, {args.connections} connections, {args.seconds:g} s each, "
        f"{args.rounds} round(s), each on fresh servers; ic serve on {store}"
    )
    rates = {}
    for name, label in (("am", "Alertmanager (baseline)"), ("ic", "ic serve (durable)")):
        each = [r[name][0] / args.seconds for r in rounds]
        failed = sum(r[name][1] for r in rounds)
        rates[name] = statistics.median(each)
        listed = ", ".join(f"{rate:.0f}" for rate in each)
        print(
            f"{label + ':':25} median {rates[name]:8.0f} alerts/s  "
            f"(rounds: {listed}; {failed} failed requests)"
        )
    print(
        f"{'ratio ic / Alertmanager:':25} {rates['ic'] / rates['am']:8.2f}  "
        "(of the medians; milestone >= 0.3, goal >= 1.0)"
    )
    samples = sorted(rounds[-1].get("latency", []))
    if samples:
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        print(
            f"single-alert posts at {args.rate:g}/s: {len(samples)} ok, "
            f"p50 {statistics.median(samples):.1f} ms, p99 {p99:.1f} ms (target p99 < 50 ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
