"""The payloads each sender posts, validated with Pydantic; unknown fields are kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AlertmanagerAlert",
    "AlertmanagerPayload",
    "EventPayload",
    "EventV2",
    "GenericAlert",
    "GenericPayload",
    "GrafanaPayload",
]

Text = Field(max_length=100_000)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AlertmanagerAlert(_Open):
    """One alert of an Alertmanager webhook (payload version 4)."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str | None = Field(default=None, max_length=128)


class AlertmanagerPayload(_Open):
    """Alertmanager's webhook body."""

    version: str = "4"
    receiver: str = ""
    status: Literal["firing", "resolved"]
    alerts: list[AlertmanagerAlert] = Field(max_length=10_000)
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    groupKey: str = ""
    truncatedAlerts: int = 0


class GrafanaPayload(AlertmanagerPayload):
    """Grafana alerting's webhook body: Alertmanager's shape plus a few fields."""

    orgId: int | None = None
    title: str | None = None
    message: str | None = None


class EventV2(_Open):
    """The ``payload`` of a PagerDuty-style Events v2 message."""

    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: dict[str, Any] | str | None = None
    timestamp: datetime | None = None


class EventPayload(_Open):
    """A PagerDuty-style Events v2 message."""

    routing_key: str = Field(default="", max_length=128)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, max_length=255)
    payload: EventV2 | None = None


class GenericAlert(_Open):
    """The minimal generic alert: a summary and a service; the rest is optional."""

    summary: str = Field(min_length=1, max_length=10_000)
    service: str = Field(min_length=1, max_length=128)
    status: Literal["firing", "resolved"] = "firing"
    severity: str | None = Field(default=None, max_length=64)
    fingerprint: str | None = Field(default=None, max_length=128)
    labels: dict[str, str] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    starts_at: datetime | None = None


class GenericPayload(_Open):
    """One generic alert, or several under ``alerts``."""

    alerts: list[GenericAlert] = Field(min_length=1, max_length=10_000)
