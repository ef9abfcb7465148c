"""The one base every executor implements."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from incident_commander.process import CommandRecord

__all__ = [
    "IDENTIFIER",
    "ExecutionContext",
    "ExecutionResult",
    "ExecutionStatus",
    "Executor",
    "ExecutorConfig",
    "ReadinessItem",
    "StateFound",
    "render_argv",
]

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ExecutionStatus(StrEnum):
    """Where one attempt at an option stands; stored as the plain value in ``executions``.

    ``started`` until the result is recorded; an executor reports ``succeeded``, ``failed`` or
    ``timed_out``; an attempt whose owner stopped is settled ``succeeded`` (the target release is
    live) or ``interrupted``.
    """

    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"


class ExecutorConfig(BaseModel):
    """Fields every mitigation option has; plugins add their own."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=IDENTIFIER.pattern)
    kind: str
    risk: str = "low"
    reversible: bool = True
    expected_minutes: float = 5


@dataclass(frozen=True)
class ExecutionContext:
    """What an executor knows of the incident it acts for."""

    incident_id: str
    service: str
    base_dir: Path
    target_release: str | None


class ReadinessItem(BaseModel):
    """One prerequisite of an option: what was checked, how, and what was found."""

    item: str
    method: str
    passed: bool
    detail: str


class ExecutionResult(BaseModel):
    """The outcome of running one option."""

    status: Literal[ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT]
    commands: list[CommandRecord] = Field(default_factory=list)
    release_before: str | None = None
    release_after: str | None = None
    error: str | None = None


class StateFound(BaseModel):
    """What an executor's own state check finds: did the option take effect?

    ``took_effect`` is ``None`` when the executor cannot tell; ``live`` is what it saw (the live
    release, ``flag new-checkout off``, a migration revision), ``detail`` says it in a sentence.
    """

    took_effect: bool | None
    live: str | None = None
    detail: str


def render_argv(argv: list[str], values: dict[str, str | None]) -> list[str]:
    """Fill ``{name}`` placeholders with validated identifiers only.

    Only the names in ``values`` are replaced, by plain substitution (never ``str.format``),
    and each value must be a short identifier, so alert or API text can never shape a command.
    """
    rendered: list[str] = []
    for arg in argv:
        for name, value in values.items():
            token = "{" + name + "}"
            if token not in arg:
                continue
            if value is None or not IDENTIFIER.match(value):
                raise ValueError(f"placeholder {token} has no safe value (got {value!r})")
            arg = arg.replace(token, value)
        rendered.append(arg)
    return rendered


class Executor(ABC):
    """Base of all executors: a slug, a title, a ``Config``, readiness and execution."""

    slug: ClassVar[str]
    title: ClassVar[str]
    Config: ClassVar[type[ExecutorConfig]]
    has_dry_run: ClassVar[bool] = False

    @abstractmethod
    def readiness(self, config: ExecutorConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        """Check every prerequisite without changing anything."""

    @abstractmethod
    def execute(self, config: ExecutorConfig, ctx: ExecutionContext) -> ExecutionResult:
        """Carry the option out and report what happened."""

    def current_release(self, config: ExecutorConfig, ctx: ExecutionContext) -> str | None:
        """The release now live, when the executor can tell; ``None`` otherwise."""
        return None

    def check_state(self, config: ExecutorConfig, ctx: ExecutionContext) -> StateFound:
        """Whether the option's intended state is in place now (asked after its owner died).

        By default: the live release is the target release. Executors whose effect is not a
        release (a flag, a migration, a cache) override this with their own check.
        """
        live = self.current_release(config, ctx)
        if live is None:
            return StateFound(
                took_effect=None,
                detail=f"a {config.kind} option cannot tell whether it took effect",
            )
        if live == ctx.target_release:
            return StateFound(
                took_effect=True, live=live, detail=f"the live release is {live}, the target"
            )
        return StateFound(
            took_effect=False,
            live=live,
            detail=f"live release {live}, not the target {ctx.target_release}",
        )
