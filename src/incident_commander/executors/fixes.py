"""The readiness items a fix-forward option adds to its executor's own (seed 003's fix rules):
the version exists (the executor checks it, as for any release), it was tested, and a way back
from it exists."""

from __future__ import annotations

from incident_commander.executors.base import (
    ExecutionContext,
    ExecutorConfig,
    ReadinessItem,
    render_argv,
)
from incident_commander.executors.toolkit import render_text
from incident_commander.process import run_argv

__all__ = ["fix_items"]


def _tested(config: ExecutorConfig, ctx: ExecutionContext) -> ReadinessItem:
    item = f"{config.name}: fix version {ctx.target_release} was tested"
    tested = config.tested
    values = {"release": ctx.target_release, "service": ctx.service}
    if tested is None:
        return ReadinessItem(
            item=item,
            method="option config",
            passed=False,
            detail="the option names no test evidence (tested: marker or command)",
        )
    try:
        if tested.marker is not None:
            marker = ctx.base_dir / render_text(tested.marker, values)
            found = marker.is_file()
            return ReadinessItem(
                item=item,
                method=f"marker file {marker}",
                passed=found,
                detail="present" if found else "missing: the version has no passing test run",
            )
        assert tested.command is not None
        argv = render_argv(tested.command, values)
    except ValueError as exc:
        return ReadinessItem(item=item, method="placeholder check", passed=False, detail=str(exc))
    record = run_argv(argv, timeout_s=tested.timeout_seconds, cwd=ctx.base_dir)
    return ReadinessItem(
        item=item,
        method=" ".join(record.argv),
        passed=record.ok,
        detail=record.error or f"exit code {record.exit_code}",
    )


def fix_items(
    config: ExecutorConfig, ctx: ExecutionContext, rollback_options: list[str]
) -> list[ReadinessItem]:
    """A fix's own prerequisites: a version named, tested, and a rollback plan behind it."""
    if ctx.target_release is None:
        return [
            ReadinessItem(
                item=f"{config.name}: fix version named",
                method="plan input (--fix-version)",
                passed=False,
                detail="no fix version given: plan again with --fix-version VERSION",
            )
        ]
    back = ", ".join(rollback_options)
    return [
        _tested(config, ctx),
        ReadinessItem(
            item=f"{config.name}: a rollback plan for the fix exists",
            method="rollback options configured for the service",
            passed=bool(rollback_options),
            detail=f"rollback options: {back}" if back else "no rollback option is configured",
        ),
    ]
