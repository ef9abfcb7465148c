"""Severity schemes and the decision tree that classifies an incident from recorded answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "PRESETS",
    "Answers",
    "Classification",
    "SeverityLevel",
    "SeverityScheme",
    "classify",
]


class SeverityLevel(BaseModel):
    """One level of a scheme; rank 0 is the top (most severe) level."""

    name: str
    meaning: str
    response: str
    resolution: str | None = None


class SeverityScheme(BaseModel):
    """An ordered list of levels, most severe first."""

    name: str
    levels: list[SeverityLevel] = Field(min_length=2)

    @property
    def names(self) -> list[str]:
        return [level.name for level in self.levels]

    def rank(self, name: str) -> int:
        """Index of a level, 0 being the most severe."""
        return self.names.index(name)

    def level(self, name: str) -> SeverityLevel:
        return self.levels[self.rank(name)]

    @property
    def top(self) -> str:
        return self.levels[0].name

    def raised(self, name: str) -> str:
        """The next more severe level (the top stays the top)."""
        return self.levels[max(self.rank(name) - 1, 0)].name


def _scheme(name: str, rows: list[tuple[str, str, str, str | None]]) -> SeverityScheme:
    return SeverityScheme(
        name=name,
        levels=[SeverityLevel(name=n, meaning=m, response=r, resolution=x) for n, m, r, x in rows],
    )


PRESETS: dict[str, SeverityScheme] = {
    "SEV1-3": _scheme(
        "SEV1-3",
        [
            ("SEV1", "SLO breached, customers impacted, wide blast radius", "immediate", None),
            ("SEV2", "partial customer impact or contained blast radius", "15 minutes", None),
            ("SEV3", "little or no customer impact", "next business day", None),
        ],
    ),
    "SEV1-4": _scheme(
        "SEV1-4",
        [
            ("SEV1", "service down, data loss or security breach", "immediate", None),
            ("SEV2", "degraded service or blocked deploys", "same day", None),
            ("SEV3", "bug or failed runs", "next business day", None),
            ("SEV4", "cosmetic", "backlog", None),
        ],
    ),
    "P1-P4": _scheme(
        "P1-P4",
        [
            ("P1", "complete outage, data loss or security breach", "5 minutes", None),
            ("P2", "major feature broken or significant degradation", "15 minutes", None),
            ("P3", "minor feature broken or partial degradation", "1 hour", None),
            ("P4", "edge case with minimal impact", "4 hours", None),
        ],
    ),
    "P0-P3": _scheme(
        "P0-P3",
        [
            ("P0", "outage, data loss or breach", "immediate", "1 hour"),
            ("P1", "major feature, performance or integrity problem", "30 minutes", "4 hours"),
            ("P2", "minor problem with a workaround", "next business day", "24 hours"),
            ("P3", "cosmetic", "next sprint", "1 week"),
        ],
    ),
}


class Answers(BaseModel):
    """The recorded answers the decision tree reads. Unknown answers are ``None``."""

    production_affected: bool
    outage: bool = False
    data_loss: bool = False
    security_compromised: bool = False
    users_blocked: bool = False
    deploys_blocked: bool = False
    correctness_affected: bool = False
    slo_burn_rate: float | None = None
    slo_burn: Literal["page", "ticket", "none"] | None = None  # the multi-window verdict
    blast_radius: str | None = None
    customer_impact: str | None = None
    impacted_components: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Classification:
    """The level chosen and the path through the tree that chose it."""

    severity: str
    path: list[str] = field(default_factory=list)


def classify(
    answers: Answers, scheme: SeverityScheme, *, page_burn_is_top: bool = True
) -> Classification:
    """Walk the default decision tree (PROTOCOL §5) and return the level and the path taken.

    With production affected, an SLO burning at the page level counts as grave when
    ``page_burn_is_top`` (else it stays at the second level, as any production impact does).
    """
    names = scheme.names
    second = names[1]
    third = names[min(2, len(names) - 1)]
    lowest = names[-1]
    path: list[str] = []
    if answers.production_affected:
        path.append("production affected: yes")
        grave = [
            label
            for label, value in (
                ("service down", answers.outage),
                ("data lost", answers.data_loss),
                ("security compromised", answers.security_compromised),
            )
            if value
        ]
        if grave:
            path.append(f"{' / '.join(grave)}: yes")
            return Classification(names[0], path)
        if answers.slo_burn == "page":
            if page_burn_is_top:
                path.append("SLO burning at the page level: yes")
                return Classification(names[0], path)
            path.append("SLO burning at the page level: yes (second level by config)")
            return Classification(second, path)
        path.append("service down / data lost / security compromised: no")
        return Classification(second, path)
    path.append("production affected: no")
    if answers.users_blocked:
        path.append("users blocked: yes")
        return Classification(second, path)
    path.append("users blocked: no")
    if answers.correctness_affected:
        path.append("correctness affected: yes")
        return Classification(third, path)
    path.append("correctness affected: no")
    return Classification(lowest, path)
