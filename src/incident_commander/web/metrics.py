"""Prometheus metrics of one server, in their own registry."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from incident_commander.clock import utcnow
from incident_commander.insights.metrics import MEASURES, compute_metrics
from incident_commander.insights.period import Period
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


class _InsightCollector(Collector):
    """The numbers of ``ic metrics`` over every incident, computed from the store at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.store.session() as session:
            result = compute_metrics(session, Period(), now=utcnow())
        median = GaugeMetricFamily(
            "ic_incident_duration_median_seconds",
            "Median response time across incidents (MTTD, MTTA, mitigate, MTTR, resolve).",
            labels=["measure"],
        )
        p90 = GaugeMetricFamily(
            "ic_incident_duration_p90_seconds",
            "90th percentile (nearest rank) response time across incidents.",
            labels=["measure"],
        )
        for measure in MEASURES:
            spread = result.durations[measure.name]
            if spread.median is not None and spread.p90 is not None:
                median.add_metric([measure.name], spread.median)
                p90.add_metric([measure.name], spread.p90)
        gates = GaugeMetricFamily(
            "ic_gate_pass_ratio",
            "Share of the incidents reaching a gate's point that passed it.",
            labels=["gate"],
        )
        for gate in result.gates:
            if gate.rate is not None:
                gates.add_metric([gate.gate], gate.rate)
        noise = GaugeMetricFamily(
            "ic_alert_rule_false_positive_ratio",
            "Share of an alert rule's alerts that were false positives.",
            labels=["rule"],
        )
        for rule in result.alert_rules:
            noise.add_metric([rule.rule], rule.rate)
        services = GaugeMetricFamily(
            "ic_incidents_by_service", "Incidents by service.", labels=["service"]
        )
        for service, count in result.by_service.items():
            services.add_metric([service], count)
        yield from (median, p90, gates, noise, services)


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
        self.registry.register(_InsightCollector(store))
