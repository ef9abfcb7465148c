"""``ic status-check``: is every configured service URL up, right now?

Every service of ``ic.yaml`` with a ``url`` is asked once, and so is every ``http`` health check
of those services, all at the same time: one slow or hanging service costs its own timeout, not
everyone's. A service URL is up when it answers below 400; a health check when it answers its
``expect_status``. A failure of a critical target makes the whole check fail.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
from pydantic import BaseModel

from incident_commander.checks.http import HttpCheckConfig
from incident_commander.config import Settings
from incident_commander.errors import InvalidInput

__all__ = ["DEFAULT_TIMEOUT", "Probe", "StatusReport", "Target", "check_status", "targets_of"]

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Target:
    """One URL to ask: whose it is, what counts as up, how long to wait."""

    service: str
    name: str
    url: str
    critical: bool
    expect_status: int | None  # None: any status below 400
    timeout: float


class Probe(BaseModel):
    """What one target answered."""

    service: str
    name: str
    url: str
    critical: bool
    ok: bool
    status: int | None
    latency_ms: float | None
    failure: str | None


class StatusReport(BaseModel):
    """Every probe, and whether a critical one failed."""

    ok: bool
    critical_failures: list[str]
    probes: list[Probe]


def targets_of(
    settings: Settings, *, service: str | None = None, timeout: float | None = None
) -> list[Target]:
    """The URLs of ``ic.yaml``: each service's ``url`` and its ``http`` health checks."""
    if service is not None and service not in settings.services:
        known = ", ".join(sorted(settings.services)) or "none"
        raise InvalidInput(f"unknown service {service!r} (ic.yaml knows: {known})")
    targets = []
    for name, config in settings.services.items():
        if service is not None and name != service:
            continue
        checks = [c for c in config.health_checks if isinstance(c, HttpCheckConfig)]
        if config.url and config.url not in {c.url for c in checks}:
            targets.append(Target(name, "url", config.url, True, None, timeout or DEFAULT_TIMEOUT))
        targets += [
            Target(name, c.name, c.url, c.critical, c.expect_status, timeout or c.timeout_seconds)
            for c in checks
        ]
    if not targets:
        raise InvalidInput(
            "nothing to check: no service in ic.yaml has a url or an http health check",
            hint="add `url:` (or an http health check) under the service in ic.yaml",
        )
    return targets


def _cause(exc: BaseException) -> BaseException:
    """The innermost exception of the chain: the socket's own error, for a connect failure."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


def _failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        cause = _cause(exc)
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        return f"cannot connect: {cause}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


async def _probe(client: httpx.AsyncClient, target: Target) -> Probe:
    started = time.monotonic()
    status: int | None = None
    failure: str | None = None
    try:
        async with asyncio.timeout(target.timeout):  # the whole answer, not each read
            response = await client.get(target.url, timeout=target.timeout)
        status = response.status_code
    except (TimeoutError, httpx.HTTPError) as exc:
        failure = _failure(exc, target.timeout)
    latency = round((time.monotonic() - started) * 1000, 1)
    if status is not None:
        expected = target.expect_status
        ok = status == expected if expected is not None else status < 400
        if not ok:
            failure = f"HTTP {status} (expected {expected if expected is not None else '< 400'})"
    return Probe(
        service=target.service,
        name=target.name,
        url=target.url,
        critical=target.critical,
        ok=failure is None,
        status=status,
        latency_ms=latency if status is not None else None,
        failure=failure,
    )


async def _probe_all(targets: list[Target]) -> list[Probe]:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        return list(await asyncio.gather(*(_probe(client, t) for t in targets)))


def check_status(targets: list[Target]) -> StatusReport:
    """Ask every target at once and report; ``ok`` is false when a critical one failed."""
    probes = asyncio.run(_probe_all(targets))
    failed = [f"{p.service}/{p.name}" for p in probes if p.critical and not p.ok]
    return StatusReport(ok=not failed, critical_failures=failed, probes=probes)
