"""Rolling a Django app's schema back: ``python manage.py migrate APP_LABEL MIGRATION``.

The state is read from ``manage.py showmigrations APP_LABEL``: the app stands at the last
migration marked ``[X]`` (``zero`` when none is applied). The rollback took effect when that
is the target migration.
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
from incident_commander.process import CommandRecord

__all__ = ["DjangoMigrateConfig", "DjangoMigrateExecutor", "applied_migrations"]

DJANGO_ZERO = "zero"
# `` [X] 0002_add_email`` (applied), `` [ ] 0003_refunds`` (not), ``[-]`` (partly squashed).
_MIGRATION_LINE = re.compile(r"^\s*\[([ X-])\]\s+(\S+)")


class DjangoMigrateConfig(MigrationConfig):
    """``migrate {app_label} {migration}`` run with ``python`` in ``app_dir``."""

    kind: str = "django-migrate"
    app_label: str = Field(pattern=IDENTIFIER.pattern)
    migration: str = Field(pattern=IDENTIFIER.pattern)
    python: str = "python"
    manage: str = "manage.py"


def applied_migrations(stdout: str) -> list[tuple[str, bool]]:
    """Each migration ``showmigrations`` lists, in its order, and whether it is applied."""
    found = []
    for line in stdout.splitlines():
        match = _MIGRATION_LINE.match(line)
        if match:
            found.append((match.group(2), match.group(1) == "X"))
    return found


class DjangoMigrateExecutor(MigrationExecutor):
    """Migrate one Django app back to the configured migration, and check it stands there."""

    slug = "django-migrate"
    title = "Django migrate back"
    Config: ClassVar[type[ExecutorConfig]] = DjangoMigrateConfig
    requires = ("python and manage.py", "the database settings", "a fresh backup")

    def _manage(self, config: MigrationConfig, cwd: Path, *args: str) -> list[str]:
        assert isinstance(config, DjangoMigrateConfig)
        python = self.located([config.python], cwd)
        return [*python, config.manage, *args]

    def target(self, config: MigrationConfig) -> str:
        assert isinstance(config, DjangoMigrateConfig)
        return config.migration

    def program(self, config: MigrationConfig) -> str:
        assert isinstance(config, DjangoMigrateConfig)
        return config.python

    def file_items(self, config: MigrationConfig, cwd: Path) -> list[ReadinessItem]:
        assert isinstance(config, DjangoMigrateConfig)
        return [self.file_item(config, cwd, config.manage, "Django")]

    def _showmigrations(
        self, config: MigrationConfig, cwd: Path, env: dict[str, str], secrets: list[str]
    ) -> tuple[CommandRecord, list[tuple[str, bool]]]:
        assert isinstance(config, DjangoMigrateConfig)
        argv = self._manage(config, cwd, "showmigrations", config.app_label)
        record = self.run(argv, cwd, env, secrets, config.check_timeout_seconds)
        return record, applied_migrations(record.stdout) if record.ok else []

    def read_state(
        self, config: MigrationConfig, cwd: Path, env: dict[str, str], secrets: list[str]
    ) -> MigrationState:
        assert isinstance(config, DjangoMigrateConfig)
        record, listed = self._showmigrations(config, cwd, env, secrets)
        if not record.ok:
            return MigrationState(None, record, failure_of("showmigrations", record))
        if not listed:
            return MigrationState(
                None, record, f"showmigrations lists no migration of {config.app_label}"
            )
        applied = [name for name, done in listed if done]
        current = applied[-1] if applied else DJANGO_ZERO
        return MigrationState(current, record, f"{config.app_label} stands at {current}")

    def target_items(
        self, config: MigrationConfig, state: MigrationState, looked_up: ReadinessItem | None
    ) -> list[ReadinessItem]:
        assert isinstance(config, DjangoMigrateConfig)
        target = config.migration
        listed = applied_migrations(state.record.stdout)
        names = [name for name, _ in listed]
        exists = target == DJANGO_ZERO or target in names
        return [
            ReadinessItem(
                item=f"{config.name}: target migration {config.app_label} {target} exists",
                method=" ".join(state.record.argv),
                passed=exists,
                detail=(
                    "zero: before the first migration"
                    if target == DJANGO_ZERO
                    else f"{target} is listed"
                    if exists
                    else f"{target} is not a migration of {config.app_label} "
                    f"(listed: {', '.join(names)})"
                ),
            ),
            self.not_current_item(config, state),
        ]

    def steps(self, config: MigrationConfig, cwd: Path) -> list[Step]:
        assert isinstance(config, DjangoMigrateConfig)
        argv = self._manage(
            config, cwd, "migrate", config.app_label, config.migration, "--no-input"
        )
        return [Step(f"migrate {config.app_label} {config.migration}", argv)]
