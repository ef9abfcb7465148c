"""Invalidates a Redis cache: the keys matching configured patterns, found with SCAN and removed
with UNLINK one batch at a time (never KEYS, which blocks the server while it walks every key).

The URL may carry a password (``redis://:${REDIS_PASSWORD}@cache:6379/0``, ``$VAR`` read from
the environment); it is a secret, kept out of the evidence: records show the address only.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar, cast
from urllib.parse import unquote, urlsplit

import redis
from pydantic import Field, SecretStr, field_validator
from redis.backoff import NoBackoff
from redis.retry import Retry

from incident_commander.clock import utcnow
from incident_commander.executors.base import (
    ExecutionContext,
    ExecutionResult,
    ExecutionStatus,
    Executor,
    ExecutorConfig,
    ReadinessItem,
    StateFound,
)
from incident_commander.executors.toolkit import (
    check_placeholders,
    credentials_item,
    render_text,
    result_of,
)
from incident_commander.process import CommandRecord
from incident_commander.redact import redact

__all__ = ["RedisCacheConfig", "RedisCacheExecutor", "RedisTarget"]

PATTERN_PLACEHOLDERS = ("service", "release", "incident_id")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


class RedisCacheConfig(ExecutorConfig):
    """``patterns`` are Redis glob patterns; ``{service}``, ``{release}`` and ``{incident_id}``
    may be placed in them."""

    kind: str = "redis-cache"
    url: SecretStr
    patterns: list[str] = Field(default_factory=list)
    allow_all: bool = False
    batch_size: int = Field(default=500, gt=0, le=100_000)
    timeout_seconds: float = Field(default=5, gt=0)
    deadline_seconds: float = Field(default=300, gt=0)
    expected_minutes: float = 1

    @field_validator("patterns")
    @classmethod
    def _known_placeholders(cls, patterns: list[str]) -> list[str]:
        check_placeholders(patterns, PATTERN_PLACEHOLDERS)
        return patterns


@dataclass(frozen=True)
class RedisTarget:
    """The server to talk to: the full URL (secret), what may be shown of it, what to redact."""

    url: str
    address: str
    secrets: list[str]
    variables: list[str]

    @classmethod
    def of(cls, config: RedisCacheConfig) -> RedisTarget:
        raw = config.url.get_secret_value()
        url = os.path.expandvars(raw)
        parts = urlsplit(url)
        secrets = [value for value in (parts.password, unquote(parts.password or "")) if value]
        host = parts.netloc.rpartition("@")[2]
        # Neither the user part nor the query (``?password=``) is shown.
        address = f"{parts.scheme}://{host}{parts.path}" if parts.scheme else "(no scheme)"
        return cls(url, address, secrets, sorted(set(_VARIABLE.findall(raw))))

    def hide(self, text: str) -> str:
        return redact(text, self.secrets)


def _match_all(pattern: str) -> bool:
    return pattern.strip("*") == ""


def _patterns(config: RedisCacheConfig, ctx: ExecutionContext) -> tuple[list[str], str | None]:
    """The patterns with their placeholders filled, or why they may not be used."""
    if not config.patterns:
        return [], "no patterns configured"
    values = {"service": ctx.service, "release": ctx.target_release, "incident_id": ctx.incident_id}
    try:
        rendered = [render_text(pattern, values) for pattern in config.patterns]
    except ValueError as exc:
        return [], str(exc)
    everything = [pattern for pattern in rendered if _match_all(pattern)]
    if everything and not config.allow_all:
        return [], (
            f"pattern {everything[0]!r} matches every key of the database; "
            "set allow_all: true to allow it"
        )
    return rendered, None


def _error(exc: Exception, target: RedisTarget) -> str:
    return target.hide(f"{type(exc).__name__}: {exc}")


@contextmanager
def _client(config: RedisCacheConfig, target: RedisTarget) -> Iterator[redis.Redis]:
    """A connection that waits at most ``timeout_seconds`` for anything and never retries."""
    client = redis.Redis.from_url(
        target.url,
        socket_timeout=config.timeout_seconds,
        socket_connect_timeout=config.timeout_seconds,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        yield client
    finally:
        client.close()


def _scan(client: redis.Redis, cursor: int, pattern: str, count: int) -> tuple[int, list[bytes]]:
    found = cast(tuple[int, list[bytes]], client.scan(cursor=cursor, match=pattern, count=count))
    return int(found[0]), list(found[1])


def _invalidate(
    client: redis.Redis,
    pattern: str,
    *,
    config: RedisCacheConfig,
    target: RedisTarget,
    deadline: float,
) -> CommandRecord:
    """SCAN for ``pattern`` and UNLINK each batch found; the record counts what went."""
    started = utcnow()
    clock = time.monotonic()
    deleted = found = rounds = 0
    exit_code: int | None = None
    timed_out = False
    error = None
    try:
        cursor = 0
        while True:
            if time.monotonic() > deadline:
                timed_out = True
                error = f"not done within {config.deadline_seconds:g} s"
                break
            cursor, keys = _scan(client, cursor, pattern, config.batch_size)
            rounds += 1
            if keys:
                found += len(keys)
                deleted += client.unlink(*keys)
            if cursor == 0:
                exit_code = 0
                break
    except redis.TimeoutError as exc:
        timed_out, error = True, _error(exc, target)
    except (redis.RedisError, OSError, ValueError) as exc:
        exit_code, error = 1, _error(exc, target)
    summary = (
        f"{target.address}: {deleted} key(s) matching {pattern!r} unlinked "
        f"({found} found in {rounds} SCAN round(s) of up to {config.batch_size})\n"
    )
    return CommandRecord(
        argv=["redis", "SCAN+UNLINK", pattern],
        cwd=None,
        env={},
        exit_code=exit_code,
        stdout=summary,
        stderr="",
        started_at=started,
        finished_at=utcnow(),
        duration_s=round(time.monotonic() - clock, 4),
        timed_out=timed_out,
        error=error,
    )


def _first_match(client: redis.Redis, pattern: str, config: RedisCacheConfig) -> str | None:
    """A key matching ``pattern``, or ``None`` once SCAN has gone round without one."""
    cursor = 0
    deadline = time.monotonic() + config.deadline_seconds
    while True:
        cursor, keys = _scan(client, cursor, pattern, config.batch_size)
        if keys:
            return keys[0].decode("utf-8", "replace")
        if cursor == 0:
            return None
        if time.monotonic() > deadline:
            raise redis.TimeoutError(f"SCAN not done within {config.deadline_seconds:g} s")


class RedisCacheExecutor(Executor):
    """Delete the cache keys matching the configured patterns (SCAN + UNLINK, in batches)."""

    slug = "redis-cache"
    title = "Invalidate a Redis cache"
    Config: ClassVar[type[ExecutorConfig]] = RedisCacheConfig
    needs_release = False
    requires = ("a reachable Redis (url, password as a secret)",)

    def readiness(self, config: ExecutorConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        assert isinstance(config, RedisCacheConfig)
        target = RedisTarget.of(config)
        patterns, problem = _patterns(config, ctx)
        items = [
            ReadinessItem(
                item=f"{config.name}: cache key patterns are set",
                method="configuration",
                passed=problem is None,
                detail=problem or ", ".join(patterns),
            )
        ]
        if target.variables:
            items.append(credentials_item(config.name, target.variables, {}))
        clock = time.monotonic()
        try:
            with _client(config, target) as client:
                client.ping()
            ok, detail = True, f"PONG in {(time.monotonic() - clock) * 1000:.0f} ms"
        except (redis.RedisError, OSError, ValueError) as exc:
            ok, detail = False, _error(exc, target)
        items.append(
            ReadinessItem(
                item=f"{config.name}: Redis reachable at {target.address}",
                method=f"PING, {config.timeout_seconds:g} s timeout",
                passed=ok,
                detail=detail,
            )
        )
        return items

    def execute(self, config: ExecutorConfig, ctx: ExecutionContext) -> ExecutionResult:
        assert isinstance(config, RedisCacheConfig)
        target = RedisTarget.of(config)
        patterns, problem = _patterns(config, ctx)
        if problem is not None:
            return ExecutionResult(status=ExecutionStatus.FAILED, error=problem)
        deadline = time.monotonic() + config.deadline_seconds
        records: list[CommandRecord] = []
        try:
            with _client(config, target) as client:
                for pattern in patterns:
                    record = _invalidate(
                        client, pattern, config=config, target=target, deadline=deadline
                    )
                    records.append(record)
                    if not record.ok:
                        break
        except (redis.RedisError, OSError, ValueError) as exc:  # the URL itself is refused
            return ExecutionResult(status=ExecutionStatus.FAILED, error=_error(exc, target))
        return result_of(records)

    def check_state(self, config: ExecutorConfig, ctx: ExecutionContext) -> StateFound:
        """Took effect when no key matches any pattern now; a key found says it did not (or
        that the cache filled again: either way, not proven)."""
        assert isinstance(config, RedisCacheConfig)
        target = RedisTarget.of(config)
        patterns, problem = _patterns(config, ctx)
        if problem is not None:
            return StateFound(took_effect=None, detail=problem)
        try:
            with _client(config, target) as client:
                for pattern in patterns:
                    key = _first_match(client, pattern, config)
                    if key is not None:
                        return StateFound(
                            took_effect=False,
                            live=f"keys match {pattern}",
                            detail=f"{key!r} still matches {pattern!r} at {target.address}",
                        )
        except (redis.RedisError, OSError, ValueError) as exc:
            return StateFound(
                took_effect=None,
                detail=f"cannot read {target.address}: {_error(exc, target)}",
            )
        shown = ", ".join(patterns)
        return StateFound(
            took_effect=True,
            live=f"no key matches {shown}",
            detail=f"no key matches {shown} at {target.address}",
        )
