"""Runs a rollback script given as an argv list, with a timeout and redacted evidence."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr

from incident_commander.executors.base import (
    ExecutionContext,
    ExecutionResult,
    ExecutionStatus,
    Executor,
    ExecutorConfig,
    ReadinessItem,
    render_argv,
)
from incident_commander.executors.toolkit import program_path, resolve_env
from incident_commander.process import run_argv

__all__ = ["ScriptExecutor", "ScriptExecutorConfig"]


class ScriptExecutorConfig(ExecutorConfig):
    """``argv`` may use ``{release}``, ``{service}`` and ``{incident_id}``."""

    kind: str = "script"
    argv: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(default=300, gt=0)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: dict[str, SecretStr] = Field(default_factory=dict)
    dry_run_argv: list[str] | None = None


class ScriptExecutor(Executor):
    """Run a script (``rollback_backend.sh --release {release}``) and judge it by its exit code."""

    slug = "script"
    title = "Rollback script"
    Config: ClassVar[type[ExecutorConfig]] = ScriptExecutorConfig
    has_dry_run = True
    requires = ("the script, executable", "its environment variables set")

    @staticmethod
    def _env(config: ScriptExecutorConfig) -> tuple[dict[str, str], list[str]]:
        return resolve_env(config.env, config.secret_env)

    def _argv(self, argv: list[str], ctx: ExecutionContext) -> list[str]:
        return render_argv(
            argv,
            {"release": ctx.target_release, "service": ctx.service, "incident_id": ctx.incident_id},
        )

    def readiness(self, config: ExecutorConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        assert isinstance(config, ScriptExecutorConfig)
        program = config.argv[0]
        path = program_path(program, ctx.base_dir)
        items = [
            ReadinessItem(
                item=f"{config.name}: script {program} exists and is executable",
                method="filesystem / PATH lookup",
                passed=bool(path and path.is_file() and os.access(path, os.X_OK)),
                detail=str(path) if path else f"{program} not found",
            )
        ]
        try:
            self._argv(config.argv, ctx)
            ok, detail = True, "every placeholder has a safe value"
        except ValueError as exc:
            ok, detail = False, str(exc)
        items.append(
            ReadinessItem(
                item=f"{config.name}: command arguments resolve",
                method="placeholder check",
                passed=ok,
                detail=detail,
            )
        )
        env, secrets = self._env(config)
        missing = [k for k, v in env.items() if "$" in v or v == ""]
        items.append(
            ReadinessItem(
                item=f"{config.name}: credentials and environment available",
                method="environment lookup",
                passed=not missing,
                detail="all set" if not missing else f"unset: {', '.join(sorted(missing))}",
            )
        )
        if config.dry_run_argv and all(item.passed for item in items):
            record = run_argv(
                self._argv(config.dry_run_argv, ctx),
                timeout_s=config.timeout_seconds,
                cwd=self._cwd(config, ctx),
                env=env,
                secrets=secrets,
            )
            items.append(
                ReadinessItem(
                    item=f"{config.name}: dry run passes",
                    method=" ".join(record.argv),
                    passed=record.ok,
                    detail=record.error or f"exit code {record.exit_code}",
                )
            )
        return items

    def _cwd(self, config: ScriptExecutorConfig, ctx: ExecutionContext) -> Path:
        return ctx.base_dir / config.cwd if config.cwd else ctx.base_dir

    def execute(self, config: ExecutorConfig, ctx: ExecutionContext) -> ExecutionResult:
        assert isinstance(config, ScriptExecutorConfig)
        env, secrets = self._env(config)
        argv = self._argv(config.argv, ctx)
        path = program_path(argv[0], ctx.base_dir)
        if path is not None and os.sep in argv[0]:
            argv = [str(path), *argv[1:]]
        record = run_argv(
            argv,
            timeout_s=config.timeout_seconds,
            cwd=self._cwd(config, ctx),
            env=env,
            secrets=secrets,
        )
        if record.timed_out:
            status = ExecutionStatus.TIMED_OUT
        elif record.ok:
            status = ExecutionStatus.SUCCEEDED
        else:
            status = ExecutionStatus.FAILED
        error = None
        if status != ExecutionStatus.SUCCEEDED:
            error = record.error or f"exit code {record.exit_code}"
        return ExecutionResult(
            status=status,
            commands=[record],
            release_after=ctx.target_release if status == ExecutionStatus.SUCCEEDED else None,
            error=error,
        )
