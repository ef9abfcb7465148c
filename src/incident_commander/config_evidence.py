"""Settings of root-cause inputs: the ``evidence`` block and each service's ``diagnostics``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from incident_commander.executors.base import IDENTIFIER
from incident_commander.executors.toolkit import check_placeholders

__all__ = [
    "DIAGNOSTIC_PLACEHOLDERS",
    "EVIDENCE_LEVELS",
    "Diagnostic",
    "Diagnostics",
    "EvidenceLevel",
    "EvidenceSettings",
]

EvidenceLevel = Literal["physics", "receipts", "artifacts", "narrative"]
EVIDENCE_LEVELS: tuple[EvidenceLevel, ...] = ("physics", "receipts", "artifacts", "narrative")
DIAGNOSTIC_PLACEHOLDERS = ("service", "incident_id")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Diagnostic(_Strict):
    """A command (``argv``) or a page (``url``) whose output is archived as a receipt.

    Runs when an incident of the service opens and on ``ic diagnose``; bounded by
    ``timeout_seconds``, and the archived output by ``max_bytes``.
    """

    name: str = Field(pattern=IDENTIFIER.pattern)
    argv: list[str] | None = Field(default=None, min_length=1)
    url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    cwd: str | None = None  # for a command: a folder relative to ic.yaml
    timeout_seconds: float = Field(default=10, gt=0, le=600)
    max_bytes: int = Field(default=64 * 1024, ge=256, le=4 * 1024 * 1024)
    level: EvidenceLevel = "receipts"

    @model_validator(mode="after")
    def _one_source(self) -> Diagnostic:
        if (self.argv is None) == (self.url is None):
            raise ValueError(f"diagnostic {self.name!r} needs exactly one of 'argv' or 'url'")
        if self.url is not None and self.cwd is not None:
            raise ValueError(f"diagnostic {self.name!r}: 'cwd' belongs to a command, not a url")
        return self

    @field_validator("argv")
    @classmethod
    def _placeholders(cls, argv: list[str] | None) -> list[str] | None:
        if argv is not None:
            check_placeholders(argv, DIAGNOSTIC_PLACEHOLDERS)
        return argv


class EvidenceSettings(_Strict):
    """Limits for root-cause inputs, and whether diagnostics run when an incident opens."""

    max_input_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    command_timeout_seconds: float = Field(default=60, gt=0, le=3600)
    url_timeout_seconds: float = Field(default=15, gt=0, le=600)
    diagnose_on_open: bool = True

    @property
    def limit_text(self) -> str:
        """The size limit as a user reads it, naming its key."""
        return f"evidence.max_input_bytes = {self.max_input_bytes} bytes"


def _unique(value: list[Diagnostic]) -> list[Diagnostic]:
    names = [d.name for d in value]
    doubles = sorted({name for name in names if names.count(name) > 1})
    if doubles:
        raise ValueError(f"diagnostic names must be unique (repeated: {', '.join(doubles)})")
    return value


Diagnostics = Annotated[list[Diagnostic], AfterValidator(_unique)]
