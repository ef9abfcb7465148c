"""Settings of extended monitoring: the checkpoints after resolution."""

from __future__ import annotations

from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["MonitoringSettings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _protocol_watch() -> list[float]:
    """PROTOCOL §1 phase 4: every minute for 30 min, every 10 min to the hour, then 4 h, 24 h."""
    return [*range(1, 31), 40, 50, 60, 240, 1440]


class MonitoringSettings(_Strict):
    """Extended monitoring after resolution: checkpoints, in minutes after resolving.

    ``per_severity`` replaces the schedule for a level; ``time_scale`` compresses every offset
    (0.001 turns 24 h into 86 s) for a demo or a test.
    """

    schedule_minutes: list[float] = Field(default_factory=_protocol_watch, min_length=1)
    per_severity: dict[str, list[float]] = Field(default_factory=dict)
    time_scale: float = Field(default=1.0, gt=0, le=1)
    every_seconds: float = Field(default=5, gt=0)  # how often the watcher looks for due ones

    @field_validator("schedule_minutes")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        return _checked_schedule(value)

    @field_validator("per_severity")
    @classmethod
    def _each_increasing(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for level, offsets in value.items():
            try:
                _checked_schedule(offsets)
            except ValueError as exc:
                raise ValueError(f"{level}: {exc}") from None
        return value

    def schedule_for(self, severity: str | None) -> list[float]:
        """The offsets (minutes, compressed by ``time_scale``) for an incident of a level."""
        offsets = self.per_severity.get(severity or "", self.schedule_minutes)
        return [minutes * self.time_scale for minutes in offsets]


def _checked_schedule(offsets: list[float]) -> list[float]:
    if not offsets:
        raise ValueError("a schedule needs at least one checkpoint")
    if any(minutes <= 0 for minutes in offsets):
        raise ValueError("checkpoint offsets must be positive (minutes after resolution)")
    if any(later <= earlier for earlier, later in pairwise(offsets)):
        raise ValueError("checkpoint offsets must increase; two checkpoints would overlap")
    return offsets
