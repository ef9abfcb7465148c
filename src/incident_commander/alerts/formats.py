"""The payloads each sender posts, validated with Pydantic; unknown fields are kept.

Every value is checked here, at the door, against what the store can hold: text without NUL
characters and of bounded length, timestamps that exist in UTC and lie between 1970 and 9999.
A value the store could not hold must never reach a transaction shared with other alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "AlertmanagerAlert",
    "AlertmanagerPayload",
    "EventPayload",
    "EventV2",
    "GenericAlert",
    "GenericPayload",
    "GrafanaPayload",
    "Instant",
]

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character, which no alert text may hold")
    return value


def _instant(value: datetime) -> datetime:
    """A timestamp as aware UTC (naive means UTC), refused outside 1970..9999."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        raise ValueError(f"{value.isoformat()} is outside 1970-01-01..9999-12-30 (UTC)")
    return moment


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _no_nul_inside(value: dict[str, Any]) -> dict[str, Any]:
    """Free-form details: no NUL anywhere inside (a database's JSON cannot hold it)."""
    if _holds_nul(value):
        raise ValueError("contains a NUL character, which no alert text may hold")
    return value


def _text_instant(value: Any) -> Any:
    """Timestamps come as ISO 8601 text; a bare number is refused, not read as epoch seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("a timestamp must be an ISO 8601 string, not a number")
    return value


def _zero_is_none(value: Any) -> Any:
    """Alertmanager sends Go's zero time (year 1) as the end of an alert still firing."""
    if isinstance(value, str) and value.startswith("0001-01-01"):
        return None
    return value


_NO_NUL = AfterValidator(_no_nul)
Id = Annotated[str, Field(max_length=128), _NO_NUL]
Name = Annotated[str, Field(min_length=1, max_length=256), _NO_NUL]
Value = Annotated[str, Field(max_length=10_000), _NO_NUL]
Summary = Annotated[str, Field(min_length=1, max_length=10_000), _NO_NUL]
Service = Annotated[str, Field(min_length=1, max_length=128), _NO_NUL]
EventText = Annotated[str, Field(min_length=1, max_length=1024), _NO_NUL]
EventSource = Annotated[str, Field(min_length=1, max_length=255), _NO_NUL]
DedupKey = Annotated[str, Field(max_length=255), _NO_NUL]
SeverityLabel = Annotated[str, Field(max_length=64), _NO_NUL]
Labels = Annotated[dict[Name, Value], Field(max_length=200)]
Instant = Annotated[datetime, BeforeValidator(_text_instant), AfterValidator(_instant)]
Count = Annotated[int, Field(strict=True, ge=0)]
EndInstant = Annotated[Instant | None, BeforeValidator(_zero_is_none)]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AlertmanagerAlert(_Open):
    """One alert of an Alertmanager webhook (payload version 4)."""

    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Labels = Field(default_factory=dict)
    startsAt: Instant
    endsAt: EndInstant = None
    generatorURL: Value = ""
    fingerprint: Id | None = None


class AlertmanagerPayload(_Open):
    """Alertmanager's webhook body; its alerts are validated one by one (``alerts.parse``)."""

    version: Id = "4"
    receiver: Value = ""
    status: Literal["firing", "resolved"]
    alerts: list[AlertmanagerAlert] = Field(default_factory=list)
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Labels = Field(default_factory=dict)
    externalURL: Value = ""
    groupKey: Value = ""
    truncatedAlerts: Count = 0


class GrafanaPayload(AlertmanagerPayload):
    """Grafana alerting's webhook body: Alertmanager's shape plus a few fields."""

    orgId: Annotated[int, Field(strict=True)] | None = None
    title: Value | None = None
    message: Value | None = None


class EventV2(_Open):
    """The ``payload`` of a PagerDuty-style Events v2 message."""

    summary: EventText
    source: EventSource
    severity: Literal["critical", "error", "warning", "info"]
    component: Name | None = None
    group: Name | None = None
    class_: Name | None = Field(default=None, alias="class")
    custom_details: dict[str, Any] | str | None = None
    timestamp: Instant | None = None


class EventPayload(_Open):
    """A PagerDuty-style Events v2 message."""

    routing_key: Id = ""
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: DedupKey | None = None
    payload: EventV2 | None = None


class GenericAlert(_Open):
    """The minimal generic alert: a summary and a service; the rest is optional."""

    summary: Summary
    service: Service
    status: Literal["firing", "resolved"] = "firing"
    severity: SeverityLabel | None = None
    fingerprint: Id | None = None
    labels: Labels = Field(default_factory=dict)
    details: Annotated[dict[Name, Any], Field(max_length=200), AfterValidator(_no_nul_inside)] = (
        Field(default_factory=dict)
    )
    starts_at: Instant | None = None


class GenericPayload(_Open):
    """One generic alert, or several under ``alerts`` (validated one by one)."""

    alerts: list[GenericAlert] = Field(default_factory=list)
