"""``ic runbook generate``: an incident runbook and a post-mortem template for one company's stack.

The runbook is rendered from ``company.config.yaml`` (hosting, database and migration tool,
feature flags, observability, error tracking, DNS, cache, team size) and, when there is one,
``ic.yaml``: its severity scheme gives the levels and their targets, and its mitigation options
are named in the rollback steps with the commands they run. The output has no date in it, so
regenerating an unchanged stack changes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from incident_commander.config import Settings, load_settings
from incident_commander.errors import ConfigError, InvalidInput
from incident_commander.evidence.files import atomic_write
from incident_commander.learn.company_config import (
    CACHES,
    COMPANY_CONFIG,
    DNS_PROVIDERS,
    FLAG_SYSTEMS,
    HOSTING_PROVIDERS,
    ORMS,
    CompanyConfig,
    load_company_config,
)
from incident_commander.learn.options import PROVIDER_KINDS, ConfiguredOption, configured_options
from incident_commander.protocol.severity import PRESETS, SeverityScheme

__all__ = [
    "POSTMORTEM_TEMPLATE",
    "RUNBOOK",
    "Level",
    "Runbook",
    "build_runbook",
    "generate",
    "ic_settings",
    "severity_levels",
]

RUNBOOK = "incident-runbook.md"
POSTMORTEM_TEMPLATE = "post-mortem-template.md"

# Examples by tier: 0 the top level, 3 the lowest; a scheme's levels are mapped onto them.
EXAMPLES: tuple[tuple[str, ...], ...] = (
    (
        "the production database is unreachable",
        "nobody can sign in",
        "customer data exposed, or confirmed lost",
    ),
    (
        "payments fail for part of the customers",
        "API responses take longer than 10 s",
        "a replica drifts out of sync and data integrity is at risk",
        "deploys are blocked",
    ),
    (
        "an export times out but can be done by hand",
        "a dashboard loads slowly",
        "a background job stalled before anyone notices",
    ),
    (
        "a layout misaligned in one browser",
        "a wrong tooltip",
        "a deprecation warning in the logs that blocks nothing",
    ),
)

_env = Environment(
    loader=PackageLoader("incident_commander.reports", "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701 - Markdown, not HTML
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Level:
    """One severity level as the runbook shows it."""

    name: str
    meaning: str
    response: str
    resolution: str
    examples: list[str]
    tier: int
    rank: int

    @property
    def respond(self) -> str:
        """The response target as the end of "Acknowledge …"."""
        target = self.response.strip()
        if target.lower() in ("immediate", "immediately", "at once"):
            return "at once"
        if target.lower() == "same day":
            return "the same day"
        if target.lower().startswith("next "):
            return f"by the {target}"
        if target.lower() == "backlog":
            return "when it is picked from the backlog"
        return f"within {target}"


@dataclass
class Runbook:
    """The rendered files (name → Markdown), where the levels came from, and any mismatch."""

    files: dict[str, str]
    scheme: str
    scheme_source: str
    options: list[ConfiguredOption] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _tier(rank: int, count: int) -> int:
    """The example tier of a level: the last level is always the lowest tier."""
    return 3 if rank == count - 1 else min(rank, 3)


def _check_levels(company: CompanyConfig, scheme: SeverityScheme) -> None:
    for key, given in (
        ("resolution", company.severity.resolution),
        ("examples", company.severity.examples),
    ):
        for name in given:
            if name not in scheme.names:
                raise ConfigError(
                    f"{COMPANY_CONFIG}: severity.{key}.{name}: not a level of the "
                    f"{scheme.name} scheme (levels: {', '.join(scheme.names)})"
                )


def severity_levels(company: CompanyConfig, scheme: SeverityScheme) -> list[Level]:
    """The scheme's levels with examples and targets; the company config fills the gaps."""
    _check_levels(company, scheme)
    levels = []
    for rank, level in enumerate(scheme.levels):
        tier = _tier(rank, len(scheme.levels))
        resolution = (
            level.resolution
            or company.severity.resolution.get(level.name)
            or "not set (add severity.resolution to company.config.yaml)"
        )
        levels.append(
            Level(
                name=level.name,
                meaning=level.meaning,
                response=level.response,
                resolution=resolution,
                examples=company.severity.examples.get(level.name) or list(EXAMPLES[tier]),
                tier=tier,
                rank=rank,
            )
        )
    return levels


def _scheme(company: CompanyConfig, settings: Settings | None) -> tuple[SeverityScheme, str]:
    if settings is not None:
        name = settings.config_path.name if settings.config_path else "ic.yaml"
        return settings.scheme, name
    chosen = company.severity.scheme
    if chosen not in PRESETS:
        raise ConfigError(
            f"{COMPANY_CONFIG}: severity.scheme: expected one of: {', '.join(PRESETS)} "
            f"(got {chosen!r})"
        )
    return PRESETS[chosen], COMPANY_CONFIG


def _notes(company: CompanyConfig, options: list[ConfiguredOption]) -> list[str]:
    """Where ic.yaml's options and company.config.yaml describe different stacks."""
    notes = []
    provider = company.hosting.provider
    expected = set(PROVIDER_KINDS[provider])
    deploy_kinds = {kind for kinds in PROVIDER_KINDS.values() for kind in kinds}
    for service in sorted({o.service for o in options}):
        kinds = {o.kind for o in options if o.service == service and o.kind in deploy_kinds}
        if kinds and not kinds & expected:
            notes.append(
                f"service {service}: ic.yaml rolls back with {', '.join(sorted(kinds))}, "
                f"while {COMPANY_CONFIG} names {HOSTING_PROVIDERS[provider]} as the host"
            )
    orm_kinds = {"alembic-downgrade": "alembic", "django-migrate": "django"}
    for option in options:
        wanted = orm_kinds.get(option.kind)
        if wanted and wanted != company.database.orm:
            notes.append(
                f"option {option.name} ({option.kind}) of service {option.service} expects "
                f"{ORMS[wanted]}, while {COMPANY_CONFIG} names {ORMS[company.database.orm]}"
            )
    return notes


# The executor kind that would do each part of the checklist for a stack (the flag, migration
# and HTTP kinds named here are the ones ic.yaml's options take for those systems).
_MIGRATION_KINDS = {"alembic": "alembic-downgrade", "django": "django-migrate", "none": None}
_FLAG_KINDS = {"flagd": "flag-file", "unleash": "flag-http", "environment": "script", "none": None}
_CACHE_KINDS = {"redis": "redis-cache", "none": None}


def _suggestions(company: CompanyConfig) -> dict[str, str | None]:
    """For each part of the checklist, the executor kind that would do it for this stack."""
    orm = company.database.orm
    flags = company.feature_flags.provider
    cache = company.cache.provider
    return {
        "deploy": PROVIDER_KINDS[company.hosting.provider][0],
        "database": _MIGRATION_KINDS.get(orm, "sql-down"),
        "flags": _FLAG_KINDS.get(flags, "http-action"),
        "cache": _CACHE_KINDS.get(cache, "script"),
    }


def _context(
    company: CompanyConfig,
    levels: list[Level],
    options: list[ConfiguredOption],
    settings: Settings | None,
) -> dict[str, Any]:
    hosting = company.hosting
    by_category: dict[str, list[ConfiguredOption]] = {}
    for option in options:
        by_category.setdefault(option.category, []).append(option)
    return {
        "c": company,
        "company": company.company,
        "team": company.team,
        "solo": company.team.solo,
        "hosting": hosting,
        "provider": hosting.provider,
        "provider_label": HOSTING_PROVIDERS[hosting.provider],
        "app": hosting.app or "<app>",
        "db": company.database,
        "orm": company.database.orm,
        "orm_label": ORMS[company.database.orm],
        "flags": company.feature_flags,
        "flags_label": FLAG_SYSTEMS[company.feature_flags.provider],
        "dns": company.dns,
        "dns_label": DNS_PROVIDERS[company.dns.provider],
        "cache": company.cache,
        "cache_label": CACHES[company.cache.provider],
        "observability": company.observability,
        "error_tracking": company.error_tracking,
        "levels": levels,
        "top": levels[0],
        "top_two": ", ".join(level.name for level in levels[:2]),
        "options": by_category,
        "has_ic": settings is not None,
        "suggest_kind": _suggestions(company),
        "services": {
            name: service.url
            for name, service in (settings.services.items() if settings else [])
            if service.url
        },
    }


def build_runbook(company: CompanyConfig, settings: Settings | None) -> Runbook:
    """Render both files for ``company`` (and the ``ic.yaml`` settings, when given)."""
    scheme, source = _scheme(company, settings)
    levels = severity_levels(company, scheme)
    options = configured_options(settings) if settings is not None else []
    context = {**_context(company, levels, options, settings), "scheme_source": source}
    files = {
        RUNBOOK: _env.get_template("runbook/incident-runbook.md.j2").render(**context),
        POSTMORTEM_TEMPLATE: _env.get_template("runbook/post-mortem-template.md.j2").render(
            **context
        ),
    }
    return Runbook(
        files=files,
        scheme=scheme.name,
        scheme_source=source,
        options=options,
        notes=_notes(company, options),
    )


def ic_settings(explicit: str | os.PathLike[str] | None) -> Settings | None:
    """The ``ic.yaml`` named, or found as ``ic`` finds it; ``None`` when there is none."""
    settings = load_settings(explicit)
    return settings if settings.config_path is not None else None


def generate(
    config_path: str | os.PathLike[str], out_dir: Path, settings: Settings | None
) -> tuple[Runbook, list[Path]]:
    """Read the company config, render, and write the files into ``out_dir``."""
    company = load_company_config(config_path)
    runbook = build_runbook(company, settings)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInput(f"{out_dir}: exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in runbook.files.items():
        path = out_dir / name
        atomic_write(path, text.encode("utf-8"))
        written.append(path)
    return runbook, written
