"""One templated HTTP call as a mitigation: maintenance mode, DNS failover, pause a pipeline.

The request (method, URL, headers, body) is written in ``ic.yaml``; its templates may name
only validated placeholders, checked when the config is loaded. Secret headers come from the
environment (``$VAR``) and are redacted from the evidence. ``HttpRequestConfig`` and the
functions that render and send it are shared with ``flag-http``'s generic form.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from incident_commander.executors.base import (
    ExecutionContext,
    ExecutionResult,
    ExecutionStatus,
    Executor,
    ExecutorConfig,
    ReadinessItem,
)
from incident_commander.executors.toolkit import (
    check_placeholders,
    credentials_item,
    http_call,
    render_text,
    status_of,
)
from incident_commander.process import CommandRecord
from incident_commander.redact import redact

__all__ = [
    "HttpActionConfig",
    "HttpActionExecutor",
    "HttpRequestConfig",
    "Method",
    "RenderedRequest",
    "reachable_item",
    "render_request",
    "send",
    "unset_variables",
]

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON-like value (the templates of a ``json`` body)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _render_json(value: Any, values: Mapping[str, str | None]) -> Any:
    if isinstance(value, str):
        return render_text(value, values)
    if isinstance(value, dict):
        return {key: _render_json(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_json(item, values) for item in value]
    return value


class HttpRequestConfig(BaseModel):
    """One request. ``body`` is text; ``json`` is a structure sent as JSON (its strings may hold
    placeholders too). ``secret_headers`` values are read from the environment and redacted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    placeholders: ClassVar[tuple[str, ...]] = ("release", "service", "incident_id")

    method: Method = "POST"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    secret_headers: dict[str, SecretStr] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204], min_length=1)
    timeout_seconds: float = Field(default=10, gt=0, le=300)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, method: object) -> object:
        return method.upper() if isinstance(method, str) else method

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https:// (got {url!r})")
        return url

    @model_validator(mode="after")
    def _templates(self) -> HttpRequestConfig:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give body or json, not both")
        templates = [self.url, *self.headers.values(), *_strings(self.json_body)]
        check_placeholders([*templates, self.body or ""], self.placeholders)
        return self


@dataclass(frozen=True)
class RenderedRequest:
    """A request ready to send, with the values to redact and the variables that are unset."""

    method: str
    url: str
    headers: dict[str, str]
    body: str | None
    secrets: list[str]
    variables: list[str]  # environment variables the secret headers name


def render_request(request: HttpRequestConfig, values: Mapping[str, str | None]) -> RenderedRequest:
    """Fill the placeholders (identifiers only) and read the secret headers from the environment.

    Raises ``ValueError`` when a placeholder has no safe value.
    """
    headers = {k: os.path.expandvars(render_text(v, values)) for k, v in request.headers.items()}
    secrets: list[str] = []
    variables: list[str] = []
    for name, secret in request.secret_headers.items():
        raw = secret.get_secret_value()
        named = _VARIABLE.findall(raw)
        variables += named
        headers[name] = os.path.expandvars(raw)
        # The whole value and each variable in it: a token echoed alone is masked too.
        found = [os.environ.get(variable, "") for variable in named]
        secrets += [value for value in found if value]
        if all(found):
            secrets.append(headers[name])
    body = render_text(request.body, values) if request.body is not None else None
    if request.json_body is not None:
        body = json.dumps(_render_json(request.json_body, values))
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    return RenderedRequest(
        method=request.method,
        url=render_text(request.url, values),
        headers=headers,
        body=body,
        secrets=secrets,
        variables=sorted(set(variables)),
    )


def send(rendered: RenderedRequest, *, timeout_s: float, expect_status: list[int]) -> CommandRecord:
    """Send it with ``toolkit.http_call``; the redacted body joins the record's argv."""
    record = http_call(
        rendered.method,
        rendered.url,
        headers=rendered.headers,
        body=rendered.body,
        timeout_s=timeout_s,
        expect_status=expect_status,
        secrets=rendered.secrets,
    )
    if rendered.body is None:
        return record
    hidden = rendered.secrets + [
        v for k, v in rendered.headers.items() if k.lower() == "authorization" and v
    ]
    return record.model_copy(
        update={"argv": [*record.argv, "--data", redact(rendered.body, hidden)]}
    )


def reachable_item(option: str, url: str, timeout_s: float) -> ReadinessItem:
    """``option: host:port accepts connections`` — a TCP connection to the request's server."""
    parsed = httpx.URL(url)
    where = f"{parsed.host}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        with socket.create_connection((parsed.host, port), timeout=min(timeout_s, 5)):
            ok, detail = True, "connected"
    except OSError as exc:
        ok, detail = False, f"cannot connect: {exc.strerror or exc}"
    return ReadinessItem(
        item=f"{option}: {where} accepts connections",
        method="TCP connect",
        passed=ok,
        detail=detail,
    )


def unset_variables(*requests: RenderedRequest) -> list[str]:
    """The environment variables the requests' secret headers name that are unset or empty."""
    names = sorted({name for request in requests for name in request.variables})
    return [name for name in names if not os.environ.get(name)]


class HttpActionConfig(ExecutorConfig):
    """A request, plus an optional ``probe`` request that readiness sends first."""

    kind: str = "http-action"
    request: HttpRequestConfig
    probe: HttpRequestConfig | None = None
    expected_minutes: float = 1


def _values(ctx: ExecutionContext) -> dict[str, str | None]:
    return {"release": ctx.target_release, "service": ctx.service, "incident_id": ctx.incident_id}


class HttpActionExecutor(Executor):
    """Send one HTTP request and judge it by its status code."""

    slug = "http-action"
    title = "Send an HTTP request"
    Config: ClassVar[type[ExecutorConfig]] = HttpActionConfig
    needs_release = False
    requires = ("the endpoint reachable", "the variables its secret headers name")

    def readiness(self, config: ExecutorConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        assert isinstance(config, HttpActionConfig)
        request = config.request
        try:
            rendered = render_request(request, _values(ctx))
        except ValueError as exc:
            return [
                ReadinessItem(
                    item=f"{config.name}: request resolves",
                    method="placeholder check",
                    passed=False,
                    detail=str(exc),
                )
            ]
        items = [
            ReadinessItem(
                item=f"{config.name}: request resolves",
                method="placeholder check",
                passed=True,
                detail=f"{rendered.method} {redact(rendered.url, rendered.secrets)}",
            ),
        ]
        if config.probe is None:
            items.append(credentials_item(config.name, rendered.variables, {}))
            items.append(reachable_item(config.name, rendered.url, request.timeout_seconds))
            return items
        probe = render_request(config.probe, _values(ctx))
        variables = [*rendered.variables, *probe.variables]
        items.append(credentials_item(config.name, variables, {}))
        if unset_variables(probe):
            return items
        record = send(
            probe, timeout_s=config.probe.timeout_seconds, expect_status=config.probe.expect_status
        )
        items.append(
            ReadinessItem(
                item=f"{config.name}: probe {record.argv[0]} {record.argv[1]} answers as expected",
                method="HTTP request",
                passed=record.ok,
                detail=record.error or record.stderr,
            )
        )
        return items

    def execute(self, config: ExecutorConfig, ctx: ExecutionContext) -> ExecutionResult:
        assert isinstance(config, HttpActionConfig)
        rendered = render_request(config.request, _values(ctx))
        unset = unset_variables(rendered)
        if unset:
            return ExecutionResult(
                status=ExecutionStatus.FAILED,
                error=f"not sent: credentials unset: {', '.join(unset)}",
            )
        record = send(
            rendered,
            timeout_s=config.request.timeout_seconds,
            expect_status=config.request.expect_status,
        )
        status = status_of(record)
        error = None if record.ok else f"{record.argv[0]} {record.argv[1]}: {record.error}"
        return ExecutionResult(status=status, commands=[record], error=error)
