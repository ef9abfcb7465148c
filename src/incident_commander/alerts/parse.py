"""From a sender's JSON to alert signals, alert by alert: one bad alert rejects only itself.

The envelope of a delivery (its status, common labels) is checked as a whole; each alert is
checked on its own, so a delivery of a hundred alerts with one bad timestamp takes ninety-nine
and names the hundredth. Every door (webhooks, ``ic alerts ingest``) parses through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from incident_commander.alerts.formats import (
    AlertmanagerAlert,
    AlertmanagerPayload,
    EventPayload,
    GenericAlert,
    GenericPayload,
    GrafanaPayload,
)
from incident_commander.alerts.signal import (
    AlertSignal,
    from_alertmanager,
    from_event,
    from_generic,
)
from incident_commander.errors import InvalidInput

__all__ = ["Parsed", "Rejected", "TooManyAlerts", "parse_delivery"]

M = TypeVar("M", bound=BaseModel)


class TooManyAlerts(InvalidInput):
    """A delivery holds more alerts than one request may carry."""

    http_status = 413


@dataclass(frozen=True)
class Rejected:
    """One alert of a delivery that was not taken, and why."""

    index: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


@dataclass
class Parsed:
    """The signals a delivery carries, and the alerts it carried that were refused."""

    signals: list[AlertSignal] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def describe_rejected(self) -> str:
        shown = "; ".join(f"{r.field}: {r.reason}" for r in self.rejected[:10])
        more = len(self.rejected) - 10
        return shown + (f"; and {more} more" if more > 0 else "")


def _where(prefix: str, error: Any) -> tuple[str, str]:
    loc = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.get("loc", ())
    )
    return f"{prefix}{loc}" or "(body)", str(error.get("msg", "invalid"))


def invalid(exc: ValidationError, prefix: str = "") -> InvalidInput:
    """A validation failure as one readable error naming each field."""
    problems = [_where(prefix, error) for error in exc.errors()[:10]]
    return InvalidInput("; ".join(f"{where.lstrip('.')}: {why}" for where, why in problems))


def _each(
    items: Any, model: type[M], limit: int, *, key: str = "alerts"
) -> tuple[list[M], list[Rejected]]:
    if not isinstance(items, list):
        raise InvalidInput(f"{key}: expected a list of alerts")
    if not items:
        raise InvalidInput(f"{key}: a delivery needs at least one alert")
    if len(items) > limit:
        raise TooManyAlerts(
            f"{key}: {len(items)} alerts in one delivery; at most {limit} alerts are taken "
            "per request (alerts.max_alerts_per_delivery)"
        )
    good: list[M] = []
    rejected: list[Rejected] = []
    for index, item in enumerate(items):
        try:
            good.append(model.model_validate(item))
        except ValidationError as exc:
            where, why = _where(f"{key}[{index}]", exc.errors()[0])
            rejected.append(Rejected(index, where, why))
    return good, rejected


def _envelope(data: dict[str, Any], model: type[M], alerts: list[Any]) -> M:
    try:
        return model.model_validate({**data, "alerts": alerts})
    except ValidationError as exc:
        raise invalid(exc) from None


def parse_delivery(source: str, data: Any, *, limit: int) -> Parsed:
    """The signals of one delivery in ``source``'s format; bad alerts rejected one by one.

    ``source`` is ``alertmanager``, ``grafana``, ``events``, ``generic`` or ``file`` (the generic
    format read from a file). Raises ``InvalidInput`` when the delivery as a whole is unusable,
    ``TooManyAlerts`` over ``limit``.
    """
    if not isinstance(data, dict):
        raise InvalidInput(f"expected a JSON object, got {type(data).__name__}")
    if source == "events":
        try:
            event = EventPayload.model_validate(data)
        except ValidationError as exc:
            raise invalid(exc) from None
        if event.event_action == "trigger" and event.payload is None:
            raise InvalidInput("payload: required when event_action is trigger")
        signal = from_event(event)
        return Parsed([signal] if signal else [])
    if source in ("alertmanager", "grafana"):
        am_alerts, rejected = _each(data.get("alerts"), AlertmanagerAlert, limit)
        model = GrafanaPayload if source == "grafana" else AlertmanagerPayload
        return Parsed(from_alertmanager(_envelope(data, model, am_alerts), source), rejected)
    generic_alerts, rejected = _each(data.get("alerts"), GenericAlert, limit)
    payload = _envelope(data, GenericPayload, generic_alerts)
    return Parsed(from_generic(payload, source), rejected)
