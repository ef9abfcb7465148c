"""Instant queries against a Prometheus HTTP API, shared by the metric checks.

``instant_query`` asks ``GET /api/v1/query`` once and returns the scalar or the instant
vector it answered; everything that is not such an answer (Prometheus down, slow, refusing
the credentials, rejecting the query, a range vector, a string) is a ``PromQLError`` whose
message says what was found, with every secret masked. ``PrometheusConfig`` holds what both
checks need to reach Prometheus: its URL and an optional bearer token or basic auth, read
from the environment (``$VAR``) when the check runs and never written to the evidence.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from incident_commander.checks.base import CheckConfig
from incident_commander.redact import redact

__all__ = [
    "BasicAuth",
    "PromQLError",
    "PrometheusClient",
    "PrometheusConfig",
    "QueryAnswer",
    "Sample",
    "format_number",
    "instant_query",
]

_UNSET_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_MESSAGE_LIMIT = 300


class PromQLError(Exception):
    """A query that gave no number to judge: the message says what was found instead."""


class BasicAuth(BaseModel):
    """HTTP basic auth for Prometheus; the password may name a variable (``$PROM_PASSWORD``)."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=200)
    password: SecretStr


class PrometheusConfig(CheckConfig):
    """Where Prometheus answers and how to authenticate (at most one of the two ways)."""

    url: str = Field(pattern=r"^https?://", max_length=2000)
    bearer_token: SecretStr | None = None
    basic_auth: BasicAuth | None = None

    @field_validator("url")
    @classmethod
    def _no_credentials_in_url(cls, value: str) -> str:
        if urlsplit(value).password is not None:
            raise ValueError("put credentials in basic_auth or bearer_token, not in the URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> PrometheusConfig:
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("give bearer_token or basic_auth, not both")
        return self


@dataclass(frozen=True)
class Sample:
    """One number Prometheus answered, with the labels of its series (none for a scalar)."""

    labels: dict[str, str]
    value: float

    @property
    def series(self) -> str:
        """The series as PromQL writes it: ``name{label="value", ...}`` (``{}`` without labels)."""
        name = self.labels.get("__name__", "")
        rest = ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()) if k != "__name__")
        return f"{name}{{{rest}}}" if rest or not name else name


@dataclass(frozen=True)
class QueryAnswer:
    """A scalar (one sample without labels) or an instant vector (zero or more samples)."""

    kind: Literal["scalar", "vector"]
    samples: list[Sample] = field(default_factory=list)


def format_number(value: float) -> str:
    """A value as Prometheus prints it: ``NaN``, ``+Inf``, ``-Inf``, else six significant digits."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.6g}"


def _secret(value: SecretStr, what: str) -> str:
    """A configured secret with ``$VAR`` expanded; an unset variable is said, by name."""
    expanded = os.path.expandvars(value.get_secret_value())
    unset = _UNSET_VARIABLE.search(expanded)
    if unset:
        raise PromQLError(f"the {what} names ${unset.group(1)}, which is not set")
    if not expanded:
        raise PromQLError(f"the {what} is empty")
    return expanded


def _credentials(
    config: PrometheusConfig,
) -> tuple[dict[str, str], httpx.BasicAuth | None, list[str]]:
    """Headers, basic auth and the secret values to mask, from the check's config."""
    if config.bearer_token is not None:
        token = _secret(config.bearer_token, "bearer token")
        return {"Authorization": f"Bearer {token}"}, None, [token]
    if config.basic_auth is not None:
        password = _secret(config.basic_auth.password, "basic auth password")
        return {}, httpx.BasicAuth(config.basic_auth.username, password), [password]
    return {}, None, []


def _value(raw: Any) -> float:
    """``[timestamp, "1.5"]`` → 1.5 (``"NaN"`` and ``"+Inf"`` included)."""
    if not (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[1], str)):
        raise PromQLError(f"not a Prometheus sample: {str(raw)[:100]}")
    try:
        return float(raw[1])
    except ValueError:
        raise PromQLError(f"not a number: {raw[1][:100]!r}") from None


def _answer(query: str, body: dict[str, Any]) -> QueryAnswer:
    """The scalar or instant vector in a successful answer's ``data``."""
    data = body.get("data")
    if not isinstance(data, dict):
        raise PromQLError("a Prometheus answer without data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return QueryAnswer("scalar", [Sample({}, _value(result))])
    if kind == "vector" and isinstance(result, list):
        samples = [
            Sample(
                {str(k): str(v) for k, v in dict(item.get("metric") or {}).items()},
                _value(item.get("value")),
            )
            for item in result
            if isinstance(item, dict)
        ]
        return QueryAnswer("vector", samples)
    if kind == "matrix":
        raise PromQLError(
            f"the query {query!r} returns a range vector; ask for an instant vector "
            "(e.g. wrap the range in rate())"
        )
    raise PromQLError(f"the query {query!r} returns a {kind}, not a number")


def _error(query: str, response: httpx.Response) -> str:
    """What went wrong, from Prometheus's error answer (or its absence)."""
    if response.status_code in (401, 403):
        return f"Prometheus refused the credentials (HTTP {response.status_code})"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        kind, text = body.get("errorType", "error"), body.get("error", "")
        if kind == "bad_data":
            return f"Prometheus rejected the query {query!r}: {text}"
        return f"Prometheus could not run the query {query!r} ({kind}): {text}"
    return f"not a Prometheus API answer (HTTP {response.status_code})"


class PrometheusClient:
    """One connection to Prometheus for several queries (``with PrometheusClient(config) as c``).

    The credentials are read when it opens: an unset variable is a ``PromQLError`` then.
    """

    def __init__(self, config: PrometheusConfig) -> None:
        self.url = config.url
        headers, auth, self._secrets = _credentials(config)
        self._http = httpx.Client(headers=headers, auth=auth)

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _fail(self, message: str) -> PromQLError:
        return PromQLError(redact(message, self._secrets)[:_MESSAGE_LIMIT])

    def query(self, query: str, *, timeout_s: float, at: float | None = None) -> QueryAnswer:
        """Run ``query`` once (at ``at``, a Unix time, or now); ``PromQLError`` if no answer."""
        params = {"query": query, "timeout": f"{max(int(timeout_s * 1000), 1)}ms"}
        if at is not None:
            params["time"] = f"{at:.3f}"
        try:
            response = self._http.get(f"{self.url}/api/v1/query", params=params, timeout=timeout_s)
        except httpx.TimeoutException:
            raise self._fail(
                f"Prometheus at {self.url} did not answer within {timeout_s:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise self._fail(
                f"cannot reach Prometheus at {self.url}: {type(exc).__name__}: {exc}"
            ) from None
        if response.status_code != 200:
            raise self._fail(_error(query, response))
        try:
            body = response.json()
        except ValueError:
            raise self._fail("not a Prometheus API answer (HTTP 200, not JSON)") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            raise self._fail(_error(query, response))
        return _answer(query, body)


def instant_query(
    config: PrometheusConfig, query: str, *, timeout_s: float, at: float | None = None
) -> QueryAnswer:
    """Run ``query`` once on a connection of its own; ``PromQLError`` if no answer."""
    with PrometheusClient(config) as client:
        return client.query(query, timeout_s=timeout_s, at=at)
