"""Every failure becomes a JSON answer with the right status; rejections are counted."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from incident_commander.errors import ICError

__all__ = ["RequestRejected", "describe_validation", "install_error_handlers"]

REASONS = {
    400: "malformed",
    401: "unauthorized",
    404: "not_found",
    405: "method",
    409: "conflict",
    413: "too_large",
    415: "content_type",
    422: "invalid",
}


class RequestRejected(Exception):
    """A request refused before it reached the engine."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def describe_validation(errors: list[Any]) -> list[dict[str, str]]:
    """Pydantic errors as ``{field, problem}`` pairs a person can read."""
    described = []
    for item in errors:
        loc = [str(part) for part in item.get("loc", ()) if part not in ("body",)]
        problem = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        described.append({"field": ".".join(loc) or "(body)", "problem": problem})
    return described


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed(request: Request) -> str:
    """The methods some route of this path accepts, for the ``Allow`` header of a 405."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def _answer(request: Request, status: int, body: dict[str, Any]) -> JSONResponse:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None and status >= 400:
        metrics.rejected.labels(REASONS.get(status, str(status))).inc()
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 405:
        headers["Allow"] = _allowed(request)
    return JSONResponse(body, status_code=status, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    """Map each failure to its status code, always as ``{"error": ..., ...}``."""

    @app.exception_handler(RequestRejected)
    async def rejected(request: Request, exc: RequestRejected) -> JSONResponse:
        return _answer(request, exc.status, {"error": exc.message})

    @app.exception_handler(ValidationError)
    async def invalid_model(request: Request, exc: ValidationError) -> JSONResponse:
        problems = describe_validation(list(exc.errors()))
        message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:10])
        return _answer(request, 422, {"error": message, "problems": problems[:100]})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(item.get("type") == "json_invalid" for item in exc.errors()):
            return _answer(request, 400, {"error": "malformed JSON"})
        problems = describe_validation(list(exc.errors()))
        message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:10])
        return _answer(request, 422, {"error": message, "problems": problems[:100]})

    @app.exception_handler(ICError)
    async def engine_error(request: Request, exc: ICError) -> JSONResponse:
        body: dict[str, Any] = {"error": exc.message}
        if exc.hint:
            body["hint"] = exc.hint
        return _answer(request, exc.http_status, body)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _answer(request, exc.status_code, {"error": str(exc.detail)})
