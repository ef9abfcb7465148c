"""The one base every executor implements."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from incident_commander.process import CommandRecord

__all__ = [
    "IDENTIFIER",
    "ExecutionContext",
    "ExecutionResult",
    "ExecutionStatus",
    "Executor",
    "ExecutorConfig",
    "IncidentKind",
    "Purpose",
    "ReadinessItem",
    "StateFound",
    "TestedEvidence",
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


Purpose = Literal["rollback", "fix", "containment"]
"""What an option is for: return to the last known good release, ship a fix forward, or contain
an incident that is not a bad deploy (revoke a credential, stop writes, pause a pipeline)."""

IncidentKind = Literal["bad-deploy", "security", "data-corruption", "blocked-deploys"]
"""The kinds of incident a containment option is proposed for (read from the assessment)."""


class TestedEvidence(BaseModel):
    """How a fix option shows its version was tested: a marker file, or a command that exits 0.

    Both may use ``{release}`` (the fix version) and ``{service}``.
    """

    model_config = ConfigDict(extra="forbid")

    marker: str | None = None
    command: list[str] | None = None
    timeout_seconds: float = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _one_way(self) -> TestedEvidence:
        if (self.marker is None) == (self.command is None):
            raise ValueError("give exactly one of marker or command")
        return self


class ExecutorConfig(BaseModel):
    """Fields every mitigation option has; plugins add their own."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=IDENTIFIER.pattern)
    kind: str
    risk: str = "low"
    reversible: bool = True
    expected_minutes: float = 5
    purpose: Purpose = "rollback"
    incidents: list[IncidentKind] = Field(default_factory=list)
    tested: TestedEvidence | None = None

    @model_validator(mode="after")
    def _purpose_fields(self) -> ExecutorConfig:
        if self.purpose == "containment" and not self.incidents:
            raise ValueError(
                "a containment option names the incidents it is for "
                "(incidents: security, data-corruption, blocked-deploys or bad-deploy)"
            )
        if self.purpose != "containment" and self.incidents:
            raise ValueError("incidents is for containment options only")
        if self.purpose != "fix" and self.tested is not None:
            raise ValueError("tested is for fix options only")
        return self


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
    needs_release: ClassVar[bool] = True
    """Whether the option acts on a release (the last known good one, or a fix version)."""
    reads_release_first: ClassVar[bool] = False
    """Whether ``execute`` reads the live state itself before it changes anything and names it
    as ``release_before``: then the engine does not ask ``current_release`` beforehand (for a
    tool that takes a second to answer, like a migration tool, that is a second saved)."""
    requires: ClassVar[tuple[str, ...]] = ()
    """What must be there for it to run (a binary, a credential variable), as ``ic executors``
    lists it."""

    @abstractmethod
    def readiness(self, config: ExecutorConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        """Check every prerequisite without changing anything."""

    @abstractmethod
    def execute(self, config: ExecutorConfig, ctx: ExecutionContext) -> ExecutionResult:
        """Carry the option out and report what happened."""

    def current_release(self, config: ExecutorConfig, ctx: ExecutionContext) -> str | None:
        """The release now live, when the executor can tell; ``None`` otherwise."""
        return None

    def describe(self, config: ExecutorConfig, ctx: ExecutionContext) -> str:
        """The action in a few words, as the approval prompt and the plan name it."""
        via = f"via {config.name} ({config.kind})"
        if config.purpose == "fix":
            return f"deploy fix {ctx.target_release} of {ctx.service} {via}"
        if self.needs_release:
            return f"roll back {ctx.service} to {ctx.target_release} {via}"
        return f"{self.title[:1].lower()}{self.title[1:]} on {ctx.service} {via}"

    def caveats(self, config: ExecutorConfig) -> list[str]:
        """What the plan must say plainly about this option (e.g. data is not rolled back)."""
        return []

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
