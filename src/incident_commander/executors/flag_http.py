"""Turns a feature flag off through a flag service's HTTP API.

``api: unleash`` speaks Unleash's admin API: the flag's state is read from
``GET {base_url}/api/admin/projects/{project}/features/{flag}`` (the environment's
``enabled``) and it is turned off with ``POST …/environments/{environment}/off``, the token
sent as ``Authorization``. ``api: generic`` sends a configured request (LaunchDarkly,
Flagsmith, GrowthBook, an in-house service) and reads the state, when a ``state`` request is
configured, at a JSON pointer of its answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from incident_commander.executors.base import (
    IDENTIFIER,
    ExecutionContext,
    ExecutionResult,
    ExecutionStatus,
    Executor,
    ExecutorConfig,
    ReadinessItem,
    StateFound,
)
from incident_commander.executors.http_action import (
    HttpRequestConfig,
    Method,
    RenderedRequest,
    reachable_item,
    render_request,
    send,
    unset_variables,
)
from incident_commander.executors.toolkit import check_placeholders, credentials_item, status_of
from incident_commander.process import CommandRecord

__all__ = ["FlagHttpConfig", "FlagHttpExecutor", "FlagRequest", "FlagStateRequest", "at_pointer"]

_MISSING = object()


class FlagRequest(HttpRequestConfig):
    """A request of the generic form: ``{flag}`` may be placed beside the usual placeholders."""

    placeholders: ClassVar[tuple[str, ...]] = ("release", "service", "incident_id", "flag")


class FlagStateRequest(FlagRequest):
    """How to read the flag: a GET whose JSON answer holds, at ``pointer``, ``on_value`` when
    the flag is on (``/environments/production/on`` for LaunchDarkly, ``/enabled`` …)."""

    method: Method = "GET"
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)
    pointer: str = Field(pattern=r"^(/.*)?$")
    on_value: Any = True


class FlagHttpConfig(ExecutorConfig):
    """``api: unleash`` needs base_url, environment and token; ``api: generic`` a ``request``."""

    model_config = ConfigDict(extra="forbid")

    kind: str = "flag-http"
    api: Literal["unleash", "generic"] = "unleash"
    flag: str = Field(pattern=IDENTIFIER.pattern)
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    project: str = Field(default="default", pattern=IDENTIFIER.pattern)
    environment: str | None = Field(default=None, pattern=IDENTIFIER.pattern)
    token: SecretStr | None = None
    request: FlagRequest | None = None
    state: FlagStateRequest | None = None
    timeout_seconds: float = Field(default=10, gt=0, le=300)
    expected_minutes: float = 1

    @model_validator(mode="after")
    def _fields_of_the_api(self) -> FlagHttpConfig:
        if self.api == "unleash":
            missing = [k for k in ("base_url", "environment", "token") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"api unleash needs {', '.join(missing)}")
            if self.request is not None or self.state is not None:
                raise ValueError("request and state belong to api generic")
            check_placeholders([self.base_url or ""], ())
        elif self.request is None:
            raise ValueError("api generic needs a request")
        return self


def at_pointer(document: Any, path: str) -> Any:
    """The value at a JSON pointer (RFC 6901) in ``document``; ``_MISSING`` when absent."""
    if path == "":
        return document
    value = document
    for raw in path.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


@dataclass(frozen=True)
class FlagRead:
    """What the API said about the flag: on, off, or ``None`` with the reason it cannot tell."""

    on: bool | None
    detail: str
    exists: bool
    record: CommandRecord | None = None


class _Unleash(BaseModel):
    """The part of Unleash's feature answer read here."""

    environments: list[dict[str, Any]] = Field(default_factory=list)


def _values(config: FlagHttpConfig, ctx: ExecutionContext) -> dict[str, str | None]:
    return {
        "release": ctx.target_release,
        "service": ctx.service,
        "incident_id": ctx.incident_id,
        "flag": config.flag,
    }


def _unleash_request(config: FlagHttpConfig, suffix: str, method: Method) -> RenderedRequest:
    assert config.base_url is not None and config.token is not None
    request = HttpRequestConfig(
        method=method,
        url=f"{config.base_url.rstrip('/')}/api/admin/projects/{config.project}"
        f"/features/{config.flag}{suffix}",
        headers={"Accept": "application/json"},
        secret_headers={"Authorization": config.token},
    )
    return render_request(request, {})


def _answer(record: CommandRecord) -> Any:
    try:
        return json.loads(record.stdout)
    except ValueError:
        return _MISSING


def _read_unleash(config: FlagHttpConfig) -> FlagRead:
    record = send(
        _unleash_request(config, "", "GET"), timeout_s=config.timeout_seconds, expect_status=[200]
    )
    where = f"project {config.project}"
    if record.exit_code is not None and record.stderr == "HTTP 404":
        return FlagRead(None, f"no flag {config.flag} in {where} (HTTP 404)", False, record)
    if not record.ok:
        return FlagRead(None, f"cannot read the flag: {record.error}", False, record)
    answer = _answer(record)
    try:
        feature = _Unleash.model_validate(answer)
    except ValueError:
        return FlagRead(None, "the answer is not an Unleash feature", False, record)
    found = [e for e in feature.environments if e.get("name") == config.environment]
    if not found:
        names = ", ".join(str(e.get("name")) for e in feature.environments) or "none"
        why = f"flag {config.flag} has no environment {config.environment} (environments: {names})"
        return FlagRead(None, why, False, record)
    enabled = found[0].get("enabled")
    if not isinstance(enabled, bool):
        return FlagRead(None, f"enabled is {enabled!r}, not true or false", True, record)
    return FlagRead(
        enabled, f"enabled: {str(enabled).lower()} in {config.environment}", True, record
    )


def _read_generic(config: FlagHttpConfig, ctx: ExecutionContext) -> FlagRead:
    state = config.state
    if state is None:
        return FlagRead(None, "cannot tell: no state request is configured", True)
    rendered = render_request(state, _values(config, ctx))
    record = send(rendered, timeout_s=state.timeout_seconds, expect_status=state.expect_status)
    if not record.ok:
        return FlagRead(None, f"cannot read the flag: {record.error}", False, record)
    value = at_pointer(_answer(record), state.pointer)
    if value is _MISSING:
        return FlagRead(None, f"the answer has nothing at {state.pointer}", False, record)
    on = value == state.on_value
    return FlagRead(on, f"{state.pointer} is {json.dumps(value)}", True, record)


def read_flag(config: FlagHttpConfig, ctx: ExecutionContext) -> FlagRead:
    """Ask the flag service whether the flag is on now."""
    if config.api == "unleash":
        return _read_unleash(config)
    return _read_generic(config, ctx)


def _turn_off(config: FlagHttpConfig, ctx: ExecutionContext) -> RenderedRequest:
    if config.api == "unleash":
        return _unleash_request(config, f"/environments/{config.environment}/off", "POST")
    assert config.request is not None
    return render_request(config.request, _values(config, ctx))


def _shown(config: FlagHttpConfig, on: bool) -> str:
    return f"flag {config.flag} {'on' if on else 'off'}"[:128]


class FlagHttpExecutor(Executor):
    """Turn a flag off through its service's API, then read it back when the API can tell."""

    slug = "flag-http"
    title = "Turn a feature flag off through an API"
    Config: ClassVar[type[ExecutorConfig]] = FlagHttpConfig
    needs_release = False
    requires = ("the flag service's API reachable", "its token in the environment")

    def describe(self, config: ExecutorConfig, ctx: ExecutionContext) -> str:
        assert isinstance(config, FlagHttpConfig)
        return f"turn flag {config.flag} off for {ctx.service} via {config.name} ({config.kind})"

    def readiness(self, config: ExecutorConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        assert isinstance(config, FlagHttpConfig)
        try:
            request = _turn_off(config, ctx)
        except ValueError as exc:
            return [
                ReadinessItem(
                    item=f"{config.name}: request resolves",
                    method="placeholder check",
                    passed=False,
                    detail=str(exc),
                )
            ]
        probes = [request]
        if config.state is not None:
            probes.append(render_request(config.state, _values(config, ctx)))
        variables = sorted({v for p in probes for v in p.variables})
        items = [credentials_item(config.name, variables, {})]
        if unset_variables(*probes):
            return items
        if config.api == "generic" and config.state is None:
            items.append(reachable_item(config.name, request.url, config.timeout_seconds))
            items.append(
                ReadinessItem(
                    item=f"{config.name}: flag {config.flag} is on now",
                    method="no state request configured",
                    passed=True,
                    detail="cannot tell: no state request is configured",
                )
            )
            return items
        read = read_flag(config, ctx)
        method = " ".join(read.record.argv[:2]) if read.record else "HTTP request"
        where = f"in {config.environment}" if config.api == "unleash" else "now"
        items.append(
            ReadinessItem(
                item=f"{config.name}: flag {config.flag} exists",
                method=method,
                passed=read.exists,
                detail=read.detail,
            )
        )
        if read.exists:
            items.append(
                ReadinessItem(
                    item=f"{config.name}: flag {config.flag} is on {where}",
                    method=method,
                    passed=read.on is True,
                    detail=read.detail,
                )
            )
        return items

    def check_state(self, config: ExecutorConfig, ctx: ExecutionContext) -> StateFound:
        assert isinstance(config, FlagHttpConfig)
        read = read_flag(config, ctx)
        if read.on is None:
            return StateFound(took_effect=None, detail=f"flag {config.flag}: {read.detail}")
        return StateFound(
            took_effect=not read.on,
            live=_shown(config, read.on),
            detail=f"flag {config.flag} is {'still on' if read.on else 'off'} ({read.detail})",
        )

    def execute(self, config: ExecutorConfig, ctx: ExecutionContext) -> ExecutionResult:
        assert isinstance(config, FlagHttpConfig)
        request = _turn_off(config, ctx)
        unset = unset_variables(request)
        if unset:
            return ExecutionResult(
                status=ExecutionStatus.FAILED,
                error=f"not sent: credentials unset: {', '.join(unset)}",
            )
        timeout = config.timeout_seconds
        expect = [200, 201, 202, 204]
        if config.request is not None:
            timeout, expect = config.request.timeout_seconds, config.request.expect_status
        record = send(request, timeout_s=timeout, expect_status=expect)
        before = _shown(config, True)
        if not record.ok:
            return ExecutionResult(
                status=status_of(record),
                commands=[record],
                release_before=before,
                release_after=before,
                error=f"{record.argv[0]} {record.argv[1]}: {record.error}",
            )
        read = read_flag(config, ctx)
        commands = [record, *([read.record] if read.record else [])]
        if read.on:
            return ExecutionResult(
                status=ExecutionStatus.FAILED,
                commands=commands,
                release_before=before,
                release_after=before,
                error=f"the API accepted the request, but flag {config.flag} still reads on "
                f"({read.detail})",
            )
        return ExecutionResult(
            status=ExecutionStatus.SUCCEEDED,
            commands=commands,
            release_before=before,
            release_after=_shown(config, False),
        )
