"""The one base every check implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Check", "CheckConfig", "CheckResult"]


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


class Check(ABC):
    """Base of all checks."""

    slug: ClassVar[str]
    title: ClassVar[str]
    Config: ClassVar[type[CheckConfig]]

    @abstractmethod
    def run(self, config: CheckConfig) -> CheckResult:
        """Probe once and say what was seen."""
