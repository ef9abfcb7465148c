"""What every ``/api`` route checks before its handler runs, and the answers it documents.

In order: access (401), path and query parameters (422), then, for routes that take a body, its
content type (415), its JSON (400) and its text (422). The handler then sees only well-formed
input, so nothing odd reaches the store (PostgreSQL refuses NUL characters in text).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, get_type_hints

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from incident_commander.web.errors import RequestRejected
from incident_commander.web.security import check_access

__all__ = ["MAX_PARAMETER", "MAX_TEXT", "ApiRoute", "FieldProblem", "Problem", "read_json_text"]

MAX_PARAMETER = 256
MAX_TEXT = 10_000

DESCRIPTIONS = {
    400: "The body is not well-formed JSON.",
    401: "A bearer token is needed, or the one given is not valid.",
    404: "No incident has this id.",
    409: "The incident is not in a state where this step can be taken.",
    413: "The body is over the size limit.",
    415: "The body is not sent as application/json.",
    422: "A parameter or field is missing or invalid; the answer names it.",
}


class FieldProblem(BaseModel):
    field: str
    problem: str


class Problem(BaseModel):
    """Every refusal: what is wrong, and for invalid input each field and its problem."""

    error: str
    hint: str | None = None
    problems: list[FieldProblem] | None = None


def _takes_body(endpoint: Callable[..., Any]) -> bool:
    hints = get_type_hints(endpoint)
    for name in inspect.signature(endpoint).parameters:
        kind = hints.get(name)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return True
    return False


def _statuses(path: str, methods: set[str], body: bool) -> list[int]:
    statuses = [401, 422]
    if body:
        statuses += [400, 413, 415]
    if "{incident_id}" in path:
        statuses.append(404)
        if "POST" in methods:
            statuses.append(409)
    return sorted(statuses)


def _check_parameter(kind: str, name: str, value: str) -> None:
    if "\x00" in name or "\x00" in value:
        raise RequestRejected(422, f"{kind} {name!r}: must not contain a NUL character")
    if len(value) > MAX_PARAMETER:
        raise RequestRejected(
            422, f"{kind} {name!r}: {len(value)} characters long; at most {MAX_PARAMETER}"
        )


def _check_parameters(request: Request) -> None:
    for name, value in request.path_params.items():
        _check_parameter("path parameter", name, str(value))
    for name, value in request.query_params.multi_items():
        _check_parameter("query parameter", name, value)


def _bad_text(data: Any) -> str | None:
    """The first string (key or value) with a NUL or over ``MAX_TEXT``, as ``field: problem``."""
    pending: list[tuple[str, Any]] = [("", data)]
    while pending:
        where, value = pending.pop()
        items: list[tuple[str, Any]] = []
        if isinstance(value, dict):
            for key, item in value.items():
                field = f"{where}.{key}" if where else str(key)
                items.append((field, key))
                items.append((field, item))
        elif isinstance(value, list):
            items = [(f"{where}.{n}" if where else str(n), item) for n, item in enumerate(value)]
        elif isinstance(value, str):
            name = (where or "(body)").replace("\x00", "\\0")
            if "\x00" in value:
                return f"{name}: text must not contain a NUL character"
            if len(value) > MAX_TEXT:
                return f"{name}: text is {len(value)} characters long; at most {MAX_TEXT}"
            continue
        # Keys come back as strings and are checked as values; their items go on the stack.
        pending.extend(reversed(items))
    return None


async def read_json_text(request: Request) -> Any:
    """The body as JSON, or 415 (content type), 400 (malformed) or 422 (a bad string)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise RequestRejected(415, f"expected Content-Type application/json, got {content_type!r}")
    body = await request.body()
    try:
        # orjson refuses what JSON does not allow (NaN, Infinity, invalid UTF-8) and deep nesting.
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestRejected(400, f"malformed JSON: {str(exc)[:200]}") from None
    problem = _bad_text(data)
    if problem is not None:
        raise RequestRejected(422, problem)
    return data


class ApiRoute(APIRoute):
    """An API route that checks its input before FastAPI parses it, and documents its refusals."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ["GET"]}
        self.takes_body = _takes_body(endpoint)
        responses: dict[int | str, dict[str, Any]] = dict(kwargs.pop("responses", None) or {})
        for status in _statuses(path, methods, self.takes_body):
            responses.setdefault(status, {"model": Problem, "description": DESCRIPTIONS[status]})
        super().__init__(path, endpoint, responses=responses, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_body = self.takes_body

        async def guarded(request: Request) -> Response:
            check_access(request, None, webhook=False)
            _check_parameters(request)
            if takes_body:
                await read_json_text(request)
            return await handler(request)

        return guarded
