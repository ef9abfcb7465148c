"""A real Prometheus (Debian's package) scraping a real exporter whose numbers the test sets.

The exporter serves, through prometheus-client:

- ``demo_requests_total{case}`` and ``demo_request_errors_total{case}``: counters that grow
  steadily with time, 100 requests a second, a fixed share of them errors per ``case``. Both
  counters of a case come from the same scrape and stay in the same proportion, so
  ``rate(errors[w]) / rate(total[w])`` is that share exactly, whatever ``rate()``'s
  extrapolation does, for every window ``w`` that holds two samples;
- ``demo_error_ratio{shard}``: gauges the test sets.

Prometheus scrapes it every second and asks for basic auth on its own API (the password is
``PASSWORD``; Prometheus keeps only its bcrypt hash), as a secured Prometheus would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from incident_commander.demo.monitoring import Process
from tests.waiting import until
from tests.workspace import free_port

USER = "reader"
PASSWORD = "metrics-reader-pw"
# bcrypt (cost 4, to keep each authenticated request cheap) of PASSWORD.
PASSWORD_HASH = "$2b$04$n7SR0WS4Lf0sanv7FSdaz.U6YglRB8yCrV39hxvkHECi8D5IoBUAS"
PASSWORD_ENV = "IC_TEST_PROM_PASSWORD"
REQUESTS_PER_SECOND = 100.0
# The share of requests that fail, per case; "idle" serves no request at all.
ERROR_SHARES = {"healthy": 0.0, "ticket": 0.05, "page": 0.1, "idle": 0.0}


class Traffic(Collector):
    """Request and error counters of every case, computed from the time at each scrape."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def collect(self) -> Iterable[CounterMetricFamily]:
        elapsed = time.monotonic() - self.started
        total = CounterMetricFamily("demo_requests", "Requests served.", labels=["case"])
        errors = CounterMetricFamily("demo_request_errors", "Requests failed.", labels=["case"])
        for case, share in ERROR_SHARES.items():
            served = 0.0 if case == "idle" else REQUESTS_PER_SECOND * elapsed
            total.add_metric([case], served)
            errors.add_metric([case], served * share)
        yield total
        yield errors


@dataclass
class Monitoring:
    """The running pair: Prometheus's URL, the gauges, and how to ask what it has scraped."""

    url: str
    ratio: Gauge

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector Prometheus answers now (as the test's own check of its state)."""
        response = httpx.get(
            f"{self.url}/api/v1/query",
            params={"query": promql},
            auth=(USER, PASSWORD),
            timeout=5,
        )
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    def wait_scraped(self, samples: int) -> None:
        """Until Prometheus holds ``samples`` scrapes of the exporter (in the last minute)."""
        promql = f'count_over_time(up{{job="exporter"}}[1m]) >= {samples}'
        until(lambda: self.query(promql), f"{samples} scrapes of the exporter", within=60)

    def wait_gauge(self, shard: str, value: float) -> None:
        """Until Prometheus's latest sample of ``demo_error_ratio{shard}`` is ``value``."""
        promql = f'demo_error_ratio{{shard="{shard}"}} == {value!r}'
        until(lambda: self.query(promql), f"{shard} at {value} in Prometheus", within=30)

    def auth(self, password: str = f"${PASSWORD_ENV}") -> dict[str, str]:
        """The ``basic_auth`` block of a check's config."""
        return {"username": USER, "password": password}


def _ready(url: str, process: Process) -> bool:
    if process.proc.poll() is not None:
        raise RuntimeError(f"Prometheus exited early:\n{process.log.read_text()[-3000:]}")
    try:
        return httpx.get(f"{url}/-/ready", auth=(USER, PASSWORD), timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def run_monitoring(root: Path) -> Iterator[Monitoring]:
    """Start the exporter and Prometheus under ``root``; stop both when the caller is done."""
    registry = CollectorRegistry()
    registry.register(Traffic())
    ratio = Gauge("demo_error_ratio", "Error ratio per shard.", ["shard"], registry=registry)
    for shard, value in (("a", 0.01), ("b", 0.02), ("c", 0.2)):
        ratio.labels(shard=shard).set(value)
    exporter_port = free_port()
    exporter, exporter_thread = start_http_server(
        exporter_port, addr="127.0.0.1", registry=registry
    )
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
        "scrape_configs": [
            {
                "job_name": "exporter",
                "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
            }
        ],
    }
    (root / "prometheus.yml").write_text(yaml.safe_dump(config))
    (root / "web.yml").write_text(yaml.safe_dump({"basic_auth_users": {USER: PASSWORD_HASH}}))
    process = Process(
        [
            "prometheus",
            f"--config.file={root / 'prometheus.yml'}",
            f"--web.config.file={root / 'web.yml'}",
            f"--storage.tsdb.path={root / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        root / "prometheus.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        until(lambda: _ready(url, process), "Prometheus ready", within=60)
        monitoring = Monitoring(url=url, ratio=ratio)
        monitoring.wait_scraped(3)
        yield monitoring
    finally:
        process.stop()
        exporter.shutdown()
        exporter.server_close()
        exporter_thread.join(timeout=5)


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers: a Prometheus too slow to wait for."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()
