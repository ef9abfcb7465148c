"""Settings of health probing: the normal pace, and the faster one after a deploy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["AfterDeployProbe", "ProbeSettings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AfterDeployProbe(_Strict):
    """Probing for ``window_seconds`` after each recorded deploy of the service: every
    ``interval_seconds``, ``failure_threshold`` failed rounds in a row alert. A round that fails
    is checked again ``rechecks`` times at once and counts only if every try fails, so that the
    faster, shorter streak is no easier for a flaky check to complete by chance."""

    window_seconds: float = Field(default=900, gt=0)
    interval_seconds: float = Field(default=1, gt=0)
    failure_threshold: int = Field(default=2, ge=1)
    rechecks: int = Field(default=1, ge=0, le=5)


class ProbeSettings(_Strict):
    """Health probing: every ``interval_seconds``; ``failure_threshold`` misses in a row alert.

    With ``after_deploy``, probing is faster and needs fewer misses for a while after a deploy.
    """

    interval_seconds: float = Field(default=10, gt=0)
    failure_threshold: int = Field(default=3, ge=1)
    after_deploy: AfterDeployProbe | None = None

    @model_validator(mode="after")
    def _faster_after_deploy(self) -> ProbeSettings:
        after = self.after_deploy
        if after is not None and after.interval_seconds > self.interval_seconds:
            raise ValueError(
                f"after_deploy.interval_seconds ({after.interval_seconds:g}) must not be longer "
                f"than interval_seconds ({self.interval_seconds:g}): probing after a deploy is "
                "meant to be faster"
            )
        return self
