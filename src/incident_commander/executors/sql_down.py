"""Rolling a schema back with a down-SQL script (Prisma, dbmate, golang-migrate, plain SQL).

The script is run by a configured argv (``psql``, ``sqlite3``, ``prisma db execute``, a
wrapper), optionally followed by more commands (``prisma migrate resolve --rolled-back NAME``).
A state argv prints the migration the database stands at (its last output line); the rollback
took effect when that is the configured ``migration``.

In every argv, ``{script}`` is the script's path, and ``$NAME`` / ``${NAME}`` is the value of a
variable of the option's own ``env`` or ``secret_env`` (so ``psql "$DATABASE_URL"`` works, with
the URL redacted from the record); nothing else is expanded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator

from incident_commander.executors.base import IDENTIFIER, ExecutorConfig, ReadinessItem
from incident_commander.executors.migrations import (
    MigrationConfig,
    MigrationExecutor,
    MigrationState,
    Step,
    failure_of,
)
from incident_commander.executors.toolkit import binary_item, check_placeholders

__all__ = ["SqlDownConfig", "SqlDownExecutor", "expand_option_vars"]

_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


class SqlDownConfig(MigrationConfig):
    """``run`` runs ``script``; ``after`` follow; ``state`` prints the current migration."""

    kind: str = "sql-down"
    script: str = Field(min_length=1)
    run: list[str] = Field(min_length=1)
    after: list[list[str]] = Field(default_factory=list)
    state: list[str] = Field(min_length=1)
    migration: str = Field(pattern=IDENTIFIER.pattern)

    @model_validator(mode="after")
    def _known_placeholders(self) -> SqlDownConfig:
        if any(not argv for argv in self.after):
            raise ValueError("each command of 'after' needs at least a program")
        argvs = [self.run, self.state, *self.after]
        # ``${NAME}`` is a variable, not a placeholder: only ``{script}`` may be placed.
        check_placeholders([_VARIABLE.sub("", arg) for argv in argvs for arg in argv], ["script"])
        return self


def expand_option_vars(argv: list[str], env: dict[str, str]) -> list[str]:
    """``$NAME`` and ``${NAME}`` replaced by the option's own variables; others left as written."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    return [_VARIABLE.sub(value, arg) for arg in argv]


class SqlDownExecutor(MigrationExecutor):
    """Run a down-SQL script with a configured tool, then check the migration state."""

    slug = "sql-down"
    title = "Down-SQL script"
    Config: ClassVar[type[ExecutorConfig]] = SqlDownConfig
    requires = ("the down script and the tool that runs it", "a state command", "a fresh backup")

    def _argv(self, argv: list[str], config: SqlDownConfig, cwd: Path) -> list[str]:
        script = str(cwd / config.script)
        env, _ = self.environment(config)
        filled = [arg.replace("{script}", script) for arg in expand_option_vars(argv, env)]
        return self.located(filled, cwd)

    def target(self, config: MigrationConfig) -> str:
        assert isinstance(config, SqlDownConfig)
        return config.migration

    def program(self, config: MigrationConfig) -> str:
        assert isinstance(config, SqlDownConfig)
        return config.run[0]

    def file_items(self, config: MigrationConfig, cwd: Path) -> list[ReadinessItem]:
        assert isinstance(config, SqlDownConfig)
        items = [self.file_item(config, cwd, config.script, "down script")]
        items += [binary_item(config.name, argv[0], cwd) for argv in [config.state, *config.after]]
        return items

    def read_state(
        self, config: MigrationConfig, cwd: Path, env: dict[str, str], secrets: list[str]
    ) -> MigrationState:
        assert isinstance(config, SqlDownConfig)
        argv = self._argv(config.state, config, cwd)
        record = self.run(argv, cwd, env, secrets, config.check_timeout_seconds)
        if not record.ok:
            return MigrationState(None, record, failure_of("state check", record))
        lines = [line.strip() for line in record.stdout.splitlines() if line.strip()]
        if not lines:
            return MigrationState(None, record, "the state check printed no migration")
        current = lines[-1]
        return MigrationState(current, record, f"current migration {current}")

    def target_items(
        self, config: MigrationConfig, state: MigrationState, looked_up: ReadinessItem | None
    ) -> list[ReadinessItem]:
        return [self.not_current_item(config, state)]

    def steps(self, config: MigrationConfig, cwd: Path) -> list[Step]:
        assert isinstance(config, SqlDownConfig)
        steps = [Step(f"down script {config.script}", self._argv(config.run, config, cwd))]
        for argv in config.after:
            steps.append(Step(" ".join(argv[:3]), self._argv(argv, config, cwd)))
        return steps
