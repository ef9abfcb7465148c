"""Switches a Capistrano-style ``current`` symlink to another release, then restarts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from incident_commander.clock import utcnow
from incident_commander.executors.base import (
    ExecutionContext,
    ExecutionResult,
    ExecutionStatus,
    Executor,
    ExecutorConfig,
    ReadinessItem,
    render_argv,
)
from incident_commander.process import CommandRecord, run_argv

__all__ = ["ReleaseSymlinkConfig", "ReleaseSymlinkExecutor", "point_link"]


def point_link(link: Path, target: Path) -> None:
    """Make ``link`` point at ``target`` atomically (a new link renamed over the old one)."""
    temp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    if temp.is_symlink() or temp.exists():
        temp.unlink()
    os.symlink(target, temp)
    os.replace(temp, link)


class ReleaseSymlinkConfig(ExecutorConfig):
    """``releases/<version>/`` folders and a ``current`` link; ``restart`` is an argv list."""

    kind: str = "release-symlink"
    releases_dir: str = "releases"
    current_link: str = "current"
    restart: list[str] = Field(default_factory=list)
    restart_timeout_seconds: float = Field(default=60, gt=0)
    expected_minutes: float = 1


class ReleaseSymlinkExecutor(Executor):
    """Point ``current`` at the last known good release (atomically) and restart the service."""

    slug = "release-symlink"
    title = "Switch release symlink"
    Config: ClassVar[type[ExecutorConfig]] = ReleaseSymlinkConfig
    requires = ("a releases folder with the target release", "a current symlink")

    @staticmethod
    def _paths(config: ReleaseSymlinkConfig, ctx: ExecutionContext) -> tuple[Path, Path]:
        return ctx.base_dir / config.releases_dir, ctx.base_dir / config.current_link

    def current_release(self, config: ExecutorConfig, ctx: ExecutionContext) -> str | None:
        assert isinstance(config, ReleaseSymlinkConfig)
        _, link = self._paths(config, ctx)
        if not link.is_symlink():
            return None
        return Path(os.readlink(link)).name

    def readiness(self, config: ExecutorConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        assert isinstance(config, ReleaseSymlinkConfig)
        releases, link = self._paths(config, ctx)
        target = releases / ctx.target_release if ctx.target_release else None
        items = [
            ReadinessItem(
                item=f"{config.name}: release folder exists",
                method="filesystem",
                passed=releases.is_dir(),
                detail=str(releases),
            ),
            ReadinessItem(
                item=f"{config.name}: {config.current_link} is a symlink",
                method="filesystem",
                passed=link.is_symlink(),
                detail=f"points at {os.readlink(link)}" if link.is_symlink() else "not a symlink",
            ),
            ReadinessItem(
                item=f"{config.name}: last known good release is present",
                method="filesystem",
                passed=bool(target and target.is_dir()),
                detail=str(target) if target else "no last known good release identified",
            ),
        ]
        if config.restart:
            program = config.restart[0]
            path = Path(program) if os.sep in program else None
            ok = path.is_file() and os.access(path, os.X_OK) if path else True
            items.append(
                ReadinessItem(
                    item=f"{config.name}: restart command available",
                    method="filesystem",
                    passed=ok,
                    detail=program,
                )
            )
        return items

    def execute(self, config: ExecutorConfig, ctx: ExecutionContext) -> ExecutionResult:
        assert isinstance(config, ReleaseSymlinkConfig)
        releases, link = self._paths(config, ctx)
        before = self.current_release(config, ctx)
        if not ctx.target_release or not (releases / ctx.target_release).is_dir():
            return ExecutionResult(
                status=ExecutionStatus.FAILED,
                release_before=before,
                release_after=before,
                error=f"release {ctx.target_release!r} not found in {releases}",
            )
        started = utcnow()
        point_link(link, Path(config.releases_dir) / ctx.target_release)
        switched = CommandRecord(
            argv=["symlink", str(link), "->", str(Path(config.releases_dir) / ctx.target_release)],
            cwd=str(ctx.base_dir),
            env={},
            exit_code=0,
            stdout=f"{link.name}: {before} -> {ctx.target_release}\n",
            stderr="",
            started_at=started,
            finished_at=utcnow(),
            duration_s=round((utcnow() - started).total_seconds(), 4),
        )
        commands = [switched]
        after = self.current_release(config, ctx)
        if config.restart:
            argv = render_argv(
                config.restart,
                {"release": ctx.target_release, "service": ctx.service},
            )
            record = run_argv(argv, timeout_s=config.restart_timeout_seconds, cwd=ctx.base_dir)
            commands.append(record)
            if not record.ok:
                return ExecutionResult(
                    status=ExecutionStatus.TIMED_OUT
                    if record.timed_out
                    else ExecutionStatus.FAILED,
                    commands=commands,
                    release_before=before,
                    release_after=after,
                    error=f"restart failed: {record.error or f'exit code {record.exit_code}'}",
                )
        return ExecutionResult(
            status=ExecutionStatus.SUCCEEDED,
            commands=commands,
            release_before=before,
            release_after=after,
        )
