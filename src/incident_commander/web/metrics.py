"""Prometheus metrics of one server, in their own registry."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from incident_commander.store.db import Store
from incident_commander.store.models import Incident

__all__ = ["Metrics"]


class _IncidentCollector(Collector):
    """Incidents by status and severity, counted from the store at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "ic_incidents", "Incidents by status and severity.", labels=["status", "severity"]
        )
        with self.store.session() as session:
            rows = session.execute(
                select(Incident.status, Incident.severity, func.count()).group_by(
                    Incident.status, Incident.severity
                )
            )
            for status, severity, count in rows:
                family.add_metric([status, severity or "none"], count)
        yield family


class Metrics:
    """The counters and histograms the server updates."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.alerts = Counter(
            "ic_alerts_received",
            "Alerts received, by source and what became of them.",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "ic_requests_rejected",
            "Requests refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.steps = Histogram(
            "ic_step_duration_seconds",
            "Time taken by each engine step served over HTTP.",
            ["step"],
            registry=self.registry,
        )
        self.registry.register(_IncidentCollector(store))
