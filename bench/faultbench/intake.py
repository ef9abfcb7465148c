"""Faults at the door: poisoned concurrent deliveries, and the disk a long uptime needs."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import select, text

from faultbench.common import BAD_VALUES, Report, Workspace, sql_engine
from incident_commander.app import Commander
from incident_commander.config import load_settings
from incident_commander.store.models import Alert
from ingest import IcServer, fresh_database

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
        ", ".join(f"{value:.0f}" for value in per_alert)
        + "  (docs/serve.md: about 165 on SQLite, 20 on PostgreSQL)",
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
