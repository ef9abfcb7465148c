"""Webhook receivers: Alertmanager, Grafana, Events v2 and a generic format."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
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
from incident_commander.alerts.intake import AlertIntake, IngestResult
from incident_commander.alerts.parse import parse_delivery
from incident_commander.errors import InvalidInput
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


async def _receive(request: Request, source: str) -> Response:
    body, data = await read_json(request, webhook=True)
    intake: AlertIntake = request.app.state.intake
    try:
        parsed = parse_delivery(source, data, limit=intake.settings.max_alerts_per_delivery)
    except InvalidInput as exc:
        raise RequestRejected(exc.http_status, exc.message) from None
    key = hashlib.sha256(source.encode() + b"\0" + body).hexdigest()
    started = time.perf_counter()
    result = IngestResult()
    if parsed.signals:
        result = await run_in_threadpool(
            intake.ingest, parsed.signals, source=source, delivery_key=key
        )
    metrics = request.app.state.metrics
    metrics.steps.labels("ingest").observe(time.perf_counter() - started)
    if not result.replayed:
        for outcome, count in Counter(entry["outcome"] for entry in result.alerts).items():
            metrics.alerts.labels(source, outcome).inc(count)
    answer = result.as_dict()
    if parsed.rejected:
        # The good alerts are taken; the answer names each one refused and why.
        metrics.rejected.labels("invalid").inc()
        answer = {
            "error": parsed.describe_rejected(),
            "rejected": [r.as_dict() for r in parsed.rejected],
            **answer,
        }
        return Response(orjson.dumps(answer), status_code=422, media_type="application/json")
    # Plain JSON types already: skip FastAPI's generic encoder, which is slow on large batches.
    return Response(orjson.dumps(answer), media_type="application/json")


@router.post("/alertmanager", openapi_extra=_body_schema(AlertmanagerPayload))
async def alertmanager(request: Request) -> Response:
    """Alertmanager's webhook receiver (payload version 4)."""
    return await _receive(request, "alertmanager")


@router.post("/grafana", openapi_extra=_body_schema(GrafanaPayload))
async def grafana(request: Request) -> Response:
    """Grafana alerting's webhook contact point."""
    return await _receive(request, "grafana")


@router.post("/events", openapi_extra=_body_schema(EventPayload))
async def events(request: Request) -> Response:
    """An Events v2 message (trigger, acknowledge, resolve)."""
    return await _receive(request, "events")


@router.post("/generic", openapi_extra=_body_schema(GenericPayload))
async def generic(request: Request) -> Response:
    """The generic format: ``{"alerts": [{"summary": ..., "service": ...}]}``."""
    return await _receive(request, "generic")
