"""Rolling a database schema back to a known migration: what every migration rollback shares.

A migration rollback reads the current migration, runs the tool's own downgrade as argv lists
in the application's folder, and reads the current migration again: it succeeded only when the
tool succeeded *and* the database now stands at the target. The same reading is its state
check after an interrupted attempt (``check_state``) and its "release" before and after.
Readiness: the folder and the tool are there, the credentials are set, the current migration
can be read, the target exists and is not already current, and a fresh backup exists
(``executors/backup.py``). Its caveats say plainly that rolling back code does not roll back
data.

Alembic (``alembic_downgrade.py``), Django (``django_migrate.py``) and down-SQL scripts
(``sql_down.py``) build on this base.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr

from incident_commander.executors.backup import BackupCheck, backup_item
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
    binary_item,
    credentials_item,
    program_path,
    resolve_env,
    run_steps,
    status_of,
)
from incident_commander.process import CommandRecord, run_argv

__all__ = [
    "MigrationConfig",
    "MigrationExecutor",
    "MigrationState",
    "Step",
    "failure_of",
    "last_words",
]

_LIVE_LIMIT = 128  # the length of the execution row's release columns
_ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*(?:Error|Exception|Failure)|FAILED|ERROR|Error)\b.*:")


class MigrationConfig(ExecutorConfig):
    """Fields every migration rollback has: where the app is, its environment, the backup."""

    app_dir: str = "."
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: dict[str, SecretStr] = Field(default_factory=dict)
    backup: BackupCheck
    timeout_seconds: float = Field(default=600, gt=0)
    check_timeout_seconds: float = Field(default=60, gt=0)
    risk: str = "high"
    reversible: bool = False
    expected_minutes: float = 10


@dataclass(frozen=True)
class MigrationState:
    """One reading of where the schema stands: ``current`` is ``None`` when it could not be read."""

    current: str | None
    record: CommandRecord
    detail: str


@dataclass(frozen=True)
class Step:
    """One command of a rollback, with the short name its failure is reported under."""

    label: str
    argv: list[str]


def last_words(record: CommandRecord) -> str:
    """What a failed command said last (stderr first), to put in one error sentence.

    The last line naming an error (``RuntimeError: …``, ``FAILED: …``) when there is one, as
    a traceback's last line may be a hint (``(Background on this error at: …)``).
    """
    for stream in (record.stderr, record.stdout):
        lines = [line.strip() for line in stream.strip().splitlines() if line.strip()]
        named = [line for line in lines if _ERROR_LINE.match(line)]
        if named or lines:
            return (named or lines)[-1][:300]
    return ""


def failure_of(label: str, record: CommandRecord) -> str:
    """``alembic downgrade 0001 failed (exit code 1): RuntimeError: cannot downgrade``."""
    why = record.error or f"exit code {record.exit_code}"
    said = last_words(record)
    return f"{label} failed ({why})" + (f": {said}" if said else "")


class MigrationExecutor(Executor):
    """A schema rollback: read the state, run the tool's downgrade, read the state again."""

    noun: ClassVar[str] = "migration"
    has_dry_run = False
    needs_release = False  # the target is a migration named in the option, not a release
    reads_release_first = True  # execute reads the current migration before the downgrade

    @abstractmethod
    def target(self, config: MigrationConfig) -> str:
        """The migration the schema must stand at afterwards."""

    @abstractmethod
    def program(self, config: MigrationConfig) -> str:
        """The program the rollback runs (looked up on PATH, or a path)."""

    @abstractmethod
    def read_state(
        self, config: MigrationConfig, cwd: Path, env: dict[str, str], secrets: list[str]
    ) -> MigrationState:
        """Ask the tool where the schema stands now."""

    @abstractmethod
    def target_items(
        self,
        config: MigrationConfig,
        state: MigrationState,
        looked_up: ReadinessItem | None,
    ) -> list[ReadinessItem]:
        """Readiness of the target itself (it exists, it is not current), from the state read
        and, where the tool is asked about the target apart, ``looked_up``."""

    def look_up_target(
        self, config: MigrationConfig, cwd: Path, env: dict[str, str], secrets: list[str]
    ) -> ReadinessItem | None:
        """Ask the tool whether the target exists, when that is a question of its own (it is
        asked at the same time as the state is read); ``None`` when the state read tells."""
        return None

    @abstractmethod
    def steps(self, config: MigrationConfig, cwd: Path) -> list[Step]:
        """The commands of the rollback, in order."""

    def file_items(self, config: MigrationConfig, cwd: Path) -> list[ReadinessItem]:
        """Files the tool needs (``manage.py``, a down script), checked before it runs."""
        return []

    def file_item(self, config: MigrationConfig, cwd: Path, name: str, what: str) -> ReadinessItem:
        """``option: manage.py exists`` (a path relative to the application folder)."""
        path = cwd / name
        return ReadinessItem(
            item=f"{config.name}: {what} {name} exists",
            method="filesystem",
            passed=path.is_file(),
            detail=str(path) if path.is_file() else f"{path} not found",
        )

    # The shared parts ------------------------------------------------------------------

    @staticmethod
    def app_dir(config: MigrationConfig, ctx: ExecutionContext) -> Path:
        """The application's folder (relative to the workspace unless absolute)."""
        return ctx.base_dir / config.app_dir

    @staticmethod
    def environment(config: MigrationConfig) -> tuple[dict[str, str], list[str]]:
        return resolve_env(config.env, config.secret_env)

    @staticmethod
    def located(argv: list[str], base_dir: Path) -> list[str]:
        """``argv`` with a relative program path made absolute (relative to ``base_dir``)."""
        path = program_path(argv[0], base_dir)
        if path is not None and "/" in argv[0]:
            return [str(path), *argv[1:]]
        return list(argv)

    def run(
        self, argv: list[str], cwd: Path, env: dict[str, str], secrets: list[str], timeout: float
    ) -> CommandRecord:
        return run_argv(argv, timeout_s=timeout, cwd=cwd, env=env, secrets=secrets)

    def _state(self, config: MigrationConfig, ctx: ExecutionContext) -> MigrationState:
        env, secrets = self.environment(config)
        return self.read_state(config, self.app_dir(config, ctx), env, secrets)

    def describe(self, config: ExecutorConfig, ctx: ExecutionContext) -> str:
        """``take the shop database back to revision 0001 via schema (alembic-downgrade)``."""
        assert isinstance(config, MigrationConfig)
        return (
            f"take the {ctx.service} database back to {self.noun} {self.target(config)} "
            f"via {config.name} ({config.kind})"
        )

    def caveats(self, config: ExecutorConfig) -> list[str]:
        assert isinstance(config, MigrationConfig)
        target = self.target(config)
        backup = config.backup.glob or " ".join(config.backup.command or [])
        return [
            "Rolling back code does not roll back data.",
            f"This rollback moves the database schema back to {self.noun} {target}: columns "
            "and tables added since are dropped with the data in them, and rows that later "
            "migrations or the application changed are not restored.",
            f"Data that must come back is restored from the backup ({backup}), "
            "not by this rollback.",
            f"Only code that works with {self.noun} {target} may run against the database "
            "afterwards: roll the application back too.",
        ]

    def readiness(self, config: ExecutorConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        assert isinstance(config, MigrationConfig)
        cwd = self.app_dir(config, ctx)
        env, secrets = self.environment(config)
        items = [
            ReadinessItem(
                item=f"{config.name}: application folder exists",
                method="filesystem",
                passed=cwd.is_dir(),
                detail=str(cwd) if cwd.is_dir() else f"{cwd} not found",
            ),
            binary_item(config.name, self.program(config), cwd),
            credentials_item(config.name, [*config.env, *config.secret_env], env),
            *self.file_items(config, cwd),
        ]
        # The tool is slow to start (a second, for a Python one): its questions are asked at
        # once, and the backup looked at meanwhile.
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="ic-readiness") as pool:
            backup = pool.submit(
                partial(backup_item, base_dir=ctx.base_dir, env=env, secrets=secrets),
                config.name,
                config.backup,
            )
            if all(item.passed for item in items):
                reading = pool.submit(self.read_state, config, cwd, env, secrets)
                lookup = pool.submit(self.look_up_target, config, cwd, env, secrets)
                state = reading.result()
                items.append(
                    ReadinessItem(
                        item=f"{config.name}: current {self.noun} readable",
                        method=" ".join(state.record.argv),
                        passed=state.current is not None,
                        detail=state.detail,
                    )
                )
                if state.current is not None:
                    items += self.target_items(config, state, lookup.result())
            items.append(backup.result())
        return items

    def not_current_item(self, config: MigrationConfig, state: MigrationState) -> ReadinessItem:
        """The target is not where the schema already stands (a rollback would change nothing)."""
        target = self.target(config)
        return ReadinessItem(
            item=f"{config.name}: schema is not already at {self.noun} {target}",
            method="current vs target",
            passed=state.current != target,
            detail=f"current {self.noun} {state.current}"
            if state.current != target
            else f"already at {target}: a rollback would change nothing",
        )

    def execute(self, config: ExecutorConfig, ctx: ExecutionContext) -> ExecutionResult:
        assert isinstance(config, MigrationConfig)
        cwd = self.app_dir(config, ctx)
        env, secrets = self.environment(config)
        target = self.target(config)
        before = self.read_state(config, cwd, env, secrets)
        steps = self.steps(config, cwd)
        records = run_steps(
            [step.argv for step in steps],
            cwd=cwd,
            env=env,
            secrets=secrets,
            timeout_s=config.timeout_seconds,
        )
        after = self.read_state(config, cwd, env, secrets)
        commands = [before.record, *records, after.record]
        last = records[-1]
        status = status_of(last)
        error = None
        if status != ExecutionStatus.SUCCEEDED:
            error = failure_of(steps[len(records) - 1].label, last)
        elif after.current != target:
            status = ExecutionStatus.FAILED
            error = (
                f"{steps[-1].label} reported success, but the current {self.noun} is "
                f"{after.current or 'unreadable'} ({after.detail}), not the target {target}"
            )
        return ExecutionResult(
            status=status,
            commands=commands,
            release_before=_clip(before.current),
            release_after=_clip(after.current),
            error=error,
        )

    def current_release(self, config: ExecutorConfig, ctx: ExecutionContext) -> str | None:
        """The migration the schema stands at (the "release" of a migration rollback)."""
        assert isinstance(config, MigrationConfig)
        return _clip(self._state(config, ctx).current)

    def check_state(self, config: ExecutorConfig, ctx: ExecutionContext) -> StateFound:
        """Took effect when the tool says the schema stands at the target migration."""
        assert isinstance(config, MigrationConfig)
        state = self._state(config, ctx)
        target = self.target(config)
        if state.current is None:
            return StateFound(
                took_effect=None,
                detail=f"the current {self.noun} could not be read ({state.detail})",
            )
        if state.current == target:
            return StateFound(
                took_effect=True,
                live=_clip(state.current),
                detail=f"the current {self.noun} is {target}, the target",
            )
        return StateFound(
            took_effect=False,
            live=_clip(state.current),
            detail=f"current {self.noun} {state.current}, not the target {target}",
        )


def _clip(value: str | None) -> str | None:
    return value[:_LIVE_LIMIT] if value is not None else None
