"""Rolling a schema back with Alembic: ``alembic downgrade REVISION`` in the app's folder.

The state is read from ``alembic current`` (one line per head, ``ae1027a6acf (head)``; no
line at all is ``base``); the target revision's existence from ``alembic show REVISION``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from incident_commander.executors.base import IDENTIFIER, ExecutorConfig, ReadinessItem
from incident_commander.executors.migrations import (
    MigrationConfig,
    MigrationExecutor,
    MigrationState,
    Step,
    failure_of,
)

__all__ = ["AlembicDowngradeConfig", "AlembicDowngradeExecutor", "alembic_revisions"]

# ``alembic current`` prints one line per head: ``ae1027a6acf (head)``; log lines do not match.
_CURRENT_LINE = re.compile(r"^([0-9A-Za-z_]+)((?: \([a-z ]+\))*)\s*$")
ALEMBIC_BASE = "base"


class AlembicDowngradeConfig(MigrationConfig):
    """``alembic downgrade {revision}``, run in ``app_dir``.

    ``alembic`` is the program (``[python, -m, alembic]`` works too); ``config`` is the path
    of alembic.ini, relative to ``app_dir`` (default ``alembic.ini``).
    """

    kind: str = "alembic-downgrade"
    revision: str = Field(pattern=IDENTIFIER.pattern)
    alembic: list[str] = Field(default_factory=lambda: ["alembic"], min_length=1)
    config: str | None = None


def alembic_revisions(stdout: str) -> list[str]:
    """The revisions ``alembic current`` names (none: the database is at base)."""
    found = []
    for line in stdout.splitlines():
        match = _CURRENT_LINE.match(line.strip())
        if match:
            found.append(match.group(1))
    return found


class AlembicDowngradeExecutor(MigrationExecutor):
    """Downgrade the schema with Alembic to the configured revision, and check it stands there."""

    slug = "alembic-downgrade"
    title = "Alembic downgrade"
    Config: ClassVar[type[ExecutorConfig]] = AlembicDowngradeConfig
    requires = (
        "alembic (or python -m alembic) and alembic.ini",
        "the database URL",
        "a fresh backup",
    )
    noun = "revision"

    def _alembic(self, config: MigrationConfig, cwd: Path, *args: str) -> list[str]:
        assert isinstance(config, AlembicDowngradeConfig)
        program = self.located(config.alembic, cwd)
        options = ["-c", config.config] if config.config else []
        return [*program, *options, *args]

    def target(self, config: MigrationConfig) -> str:
        assert isinstance(config, AlembicDowngradeConfig)
        return config.revision

    def file_items(self, config: MigrationConfig, cwd: Path) -> list[ReadinessItem]:
        assert isinstance(config, AlembicDowngradeConfig)
        return [self.file_item(config, cwd, config.config or "alembic.ini", "Alembic config")]

    def program(self, config: MigrationConfig) -> str:
        assert isinstance(config, AlembicDowngradeConfig)
        return config.alembic[0]

    def read_state(
        self, config: MigrationConfig, cwd: Path, env: dict[str, str], secrets: list[str]
    ) -> MigrationState:
        record = self.run(
            self._alembic(config, cwd, "current"), cwd, env, secrets, config.check_timeout_seconds
        )
        if not record.ok:
            return MigrationState(None, record, failure_of("alembic current", record))
        revisions = alembic_revisions(record.stdout)
        current = ",".join(revisions) if revisions else ALEMBIC_BASE
        return MigrationState(current, record, f"current revision {current}")

    def look_up_target(
        self, config: MigrationConfig, cwd: Path, env: dict[str, str], secrets: list[str]
    ) -> ReadinessItem | None:
        target = self.target(config)
        item = f"{config.name}: target revision {target} exists"
        if target == ALEMBIC_BASE:
            return ReadinessItem(
                item=item, method="alembic", passed=True, detail="base: before the first revision"
            )
        argv = self._alembic(config, cwd, "show", target)
        record = self.run(argv, cwd, env, secrets, config.check_timeout_seconds)
        return ReadinessItem(
            item=item,
            method=" ".join(record.argv),
            passed=record.ok,
            detail=f"revision {target} found"
            if record.ok
            else failure_of(f"alembic show {target}", record),
        )

    def target_items(
        self, config: MigrationConfig, state: MigrationState, looked_up: ReadinessItem | None
    ) -> list[ReadinessItem]:
        assert looked_up is not None  # look_up_target always answers
        return [looked_up, self.not_current_item(config, state)]

    def steps(self, config: MigrationConfig, cwd: Path) -> list[Step]:
        target = self.target(config)
        return [
            Step(f"alembic downgrade {target}", self._alembic(config, cwd, "downgrade", target))
        ]
