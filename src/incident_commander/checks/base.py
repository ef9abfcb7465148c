"""The one base every check implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from incident_commander.store.db import Store

__all__ = ["Check", "CheckConfig", "CheckContext", "CheckResult", "CheckVerdict"]


class CheckVerdict(StrEnum):
    """A recovery validation attempt's verdict, stored as the plain value in its record."""

    PASSED = "passed"
    FAILED = "failed"


class CheckConfig(BaseModel):
    """Fields every check has; plugins add their own."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    kind: str
    critical: bool = True
    timeout_seconds: float = Field(default=5, gt=0)


class CheckResult(BaseModel):
    """One run of one check: observed against expected."""

    name: str
    kind: str
    critical: bool
    passed: bool
    observed: str
    expected: str
    at: datetime
    duration_ms: float


@dataclass(frozen=True)
class CheckContext:
    """What a check may know besides its config: the store and the incident it validates."""

    store: Store | None = None
    incident_id: str | None = None
    service: str | None = None


class Check(ABC):
    """Base of all checks."""

    slug: ClassVar[str]
    title: ClassVar[str]
    Config: ClassVar[type[CheckConfig]]

    @abstractmethod
    def run(self, config: CheckConfig, ctx: CheckContext) -> CheckResult:
        """Probe once and say what was seen."""
