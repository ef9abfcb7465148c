"""Settings of the approvals: who may answer, in which roles, by when."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ApprovalRule", "ApprovalSettings", "Person"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Person(_Strict):
    """Someone who may answer approvals, and the roles they answer in."""

    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(default_factory=list)


class ApprovalRule(_Strict):
    """How one approval is asked: its deadline, what happens then, and whose yes it needs.

    ``requires`` names roles that must each say yes (any no decides no); ``requires_for`` adds
    roles by the kind of incident (``security: [security]``). A decision that needs roles is
    not answered by a policy.
    """

    ttl_minutes: float | None = Field(default=None, gt=0)
    ttl_by_severity: dict[str, float] = Field(default_factory=dict)
    on_expiry: Literal["escalate", "halt"] = "escalate"
    escalate_to: str | None = Field(default=None, max_length=100)
    requires: list[str] = Field(default_factory=list)
    requires_for: dict[str, list[str]] = Field(default_factory=dict)

    def ttl_for(self, severity: str | None) -> float | None:
        """Minutes the prompt stays open for an incident of this level (``None``: no limit)."""
        return self.ttl_by_severity.get(severity or "", self.ttl_minutes)

    def roles_for(self, kinds: list[str]) -> list[str]:
        """The roles whose yes the decision needs, for an incident of these kinds."""
        needed = list(self.requires)
        for kind in kinds:
            needed += [role for role in self.requires_for.get(kind, []) if role not in needed]
        return needed


class ApprovalSettings(_Strict):
    """The rule of each of the three approvals."""

    severity: ApprovalRule = Field(default_factory=ApprovalRule)
    mitigation: ApprovalRule = Field(default_factory=ApprovalRule)
    resolution: ApprovalRule = Field(default_factory=ApprovalRule)

    @model_validator(mode="after")
    def _halt_only_mitigation(self) -> ApprovalSettings:
        for kind in ("severity", "resolution"):
            if getattr(self, kind).on_expiry == "halt":
                raise ValueError(
                    f"{kind}: on_expiry halt is for the mitigation approval only; the "
                    f"{kind} prompt escalates when it expires"
                )
        return self

    def rule(self, kind: str) -> ApprovalRule:
        """The rule of approval ``kind`` (severity, mitigation or resolution)."""
        found: ApprovalRule = getattr(self, kind)
        return found
