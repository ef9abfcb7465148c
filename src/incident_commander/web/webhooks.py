"""Webhook receivers: Alertmanager, Grafana, Events v2 and a generic format."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from incident_commander.alerts.formats import (
    AlertmanagerPayload,
    EventPayload,
    GenericPayload,
    GrafanaPayload,
)
from incident_commander.alerts.intake import AlertIntake
from incident_commander.alerts.signal import (
    AlertSignal,
    from_alertmanager,
    from_event,
    from_generic,
)
from incident_commander.web.errors import RequestRejected
from incident_commander.web.security import check_access

__all__ = ["router"]

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


async def read_json(request: Request, *, webhook: bool) -> tuple[bytes, Any]:
    """The raw body and its JSON, after the access check; 401, 415 or 400 otherwise."""
    body = await request.body()
    check_access(request, body, webhook=webhook)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise RequestRejected(415, f"expected Content-Type application/json, got {content_type!r}")
    try:
        # orjson refuses what JSON does not allow (NaN, Infinity, invalid UTF-8) and deep nesting.
        return body, orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestRejected(400, f"malformed JSON: {str(exc)[:200]}") from None


async def _receive(
    request: Request,
    source: str,
    model: type[BaseModel],
    convert: Callable[[Any], list[AlertSignal]],
) -> Response:
    body, data = await read_json(request, webhook=True)
    if not isinstance(data, dict):
        raise RequestRejected(422, f"expected a JSON object, got {type(data).__name__}")
    payload = model.model_validate(data)
    signals = convert(payload)
    intake: AlertIntake = request.app.state.intake
    key = hashlib.sha256(source.encode() + b"\0" + body).hexdigest()
    started = time.perf_counter()
    result = await run_in_threadpool(intake.ingest, signals, source=source, delivery_key=key)
    metrics = request.app.state.metrics
    metrics.steps.labels("ingest").observe(time.perf_counter() - started)
    if not result.replayed:
        for outcome, count in Counter(entry["outcome"] for entry in result.alerts).items():
            metrics.alerts.labels(source, outcome).inc(count)
    # Plain JSON types already: skip FastAPI's generic encoder, which is slow on large batches.
    return Response(orjson.dumps(result.as_dict()), media_type="application/json")


@router.post("/alertmanager", openapi_extra=_body_schema(AlertmanagerPayload))
async def alertmanager(request: Request) -> Response:
    """Alertmanager's webhook receiver (payload version 4)."""
    return await _receive(
        request, "alertmanager", AlertmanagerPayload, lambda p: from_alertmanager(p, "alertmanager")
    )


@router.post("/grafana", openapi_extra=_body_schema(GrafanaPayload))
async def grafana(request: Request) -> Response:
    """Grafana alerting's webhook contact point."""
    return await _receive(
        request, "grafana", GrafanaPayload, lambda p: from_alertmanager(p, "grafana")
    )


@router.post("/events", openapi_extra=_body_schema(EventPayload))
async def events(request: Request) -> Response:
    """An Events v2 message (trigger, acknowledge, resolve)."""

    def convert(payload: EventPayload) -> list[AlertSignal]:
        if payload.event_action == "trigger" and payload.payload is None:
            raise RequestRejected(422, "payload: required when event_action is trigger")
        signal = from_event(payload)
        return [signal] if signal else []

    return await _receive(request, "events", EventPayload, convert)


@router.post("/generic", openapi_extra=_body_schema(GenericPayload))
async def generic(request: Request) -> Response:
    """The generic format: ``{"alerts": [{"summary": ..., "service": ...}]}``."""
    return await _receive(request, "generic", GenericPayload, from_generic)
