"""Command check: run an argv list, pass on the expected exit code."""

from __future__ import annotations

from pydantic import Field

from incident_commander.checks.base import Check, CheckConfig, CheckContext, CheckResult
from incident_commander.process import run_argv

__all__ = ["CommandCheck", "CommandCheckConfig"]


class CommandCheck(Check):
    """Run a command without a shell; pass when it exits with ``expect_exit``."""

    slug = "command"
    title = "Command check"

    class Config(CheckConfig):
        kind: str = "command"
        argv: list[str] = Field(min_length=1)
        expect_exit: int = 0

    def run(self, config: CheckConfig, ctx: CheckContext) -> CheckResult:
        assert isinstance(config, CommandCheck.Config)
        record = run_argv(config.argv, timeout_s=config.timeout_seconds)
        observed = record.error or f"exit code {record.exit_code}"
        return CheckResult(
            name=config.name,
            kind=self.slug,
            critical=config.critical,
            passed=record.exit_code == config.expect_exit and not record.timed_out,
            observed=observed,
            expected=f"exit code {config.expect_exit}",
            at=record.started_at,
            duration_ms=round(record.duration_s * 1000, 2),
        )


CommandCheckConfig = CommandCheck.Config
