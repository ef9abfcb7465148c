"""TCP check: a connection to host:port opens within the timeout."""

from __future__ import annotations

import socket
import time
from typing import ClassVar

from pydantic import Field

from incident_commander.checks.base import Check, CheckConfig, CheckContext, CheckResult
from incident_commander.clock import utcnow

__all__ = ["TcpCheck", "TcpCheckConfig"]


class TcpCheckConfig(CheckConfig):
    """Connect to ``host``:``port``; nothing is sent."""

    kind: str = "tcp"
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9._:\-\[\]]+$")
    port: int = Field(ge=1, le=65535)


def _connect(host: str, port: int, timeout_s: float) -> tuple[bool, str]:
    """Whether the connection opened, and what was seen (in how long, or why not)."""
    start = time.monotonic()
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout_s):
            elapsed = (time.monotonic() - start) * 1000
    except ConnectionRefusedError:
        return False, "refused"
    except TimeoutError:
        return False, f"timed out after {timeout_s:g} s"
    except socket.gaierror as exc:
        return False, f"cannot resolve {host}: {exc.strerror or exc}"
    except OSError as exc:
        return False, f"cannot connect: {exc.strerror or exc}"
    return True, f"connected in {elapsed:.1f} ms"


class TcpCheck(Check):
    """Open a TCP connection and close it; pass when it opened within the timeout."""

    slug = "tcp"
    title = "TCP connect"
    Config: ClassVar[type[CheckConfig]] = TcpCheckConfig

    def run(self, config: CheckConfig, ctx: CheckContext) -> CheckResult:
        assert isinstance(config, TcpCheckConfig)
        at = utcnow()
        start = time.monotonic()
        passed, observed = _connect(config.host, config.port, config.timeout_seconds)
        return CheckResult(
            name=config.name,
            kind=self.slug,
            critical=config.critical,
            passed=passed,
            observed=observed,
            expected=f"a TCP connection to {config.host}:{config.port} "
            f"within {config.timeout_seconds:g} s",
            at=at,
            duration_ms=round((time.monotonic() - start) * 1000, 2),
        )
