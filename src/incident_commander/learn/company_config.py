"""``company.config.yaml``: what the runbook generator knows of a company's stack.

The file describes the stack once (hosting provider, database and its migration tool, feature
flags, observability, error tracking, DNS, cache, the team) and ``ic runbook generate`` turns it
into runbooks written for that stack. Every key is checked; an unknown key or value is refused
with its dotted path and what was expected (exit 2), never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from incident_commander.config import _describe, _read_yaml
from incident_commander.errors import ConfigError

__all__ = [
    "COMPANY_CONFIG",
    "HOSTING_PROVIDERS",
    "ORMS",
    "CompanyConfig",
    "Hosting",
    "load_company_config",
]

COMPANY_CONFIG = "company.config.yaml"

HOSTING_PROVIDERS: dict[str, str] = {
    "vercel": "Vercel",
    "aws": "AWS (ECS)",
    "railway": "Railway",
    "fly": "Fly.io",
    "heroku": "Heroku",
    "kubernetes": "Kubernetes",
    "docker-compose": "Docker Compose",
    "release-symlink": "releases/ folders and a current symlink",
}
ORMS: dict[str, str] = {
    "prisma": "Prisma Migrate",
    "drizzle": "Drizzle Kit",
    "django": "Django migrations",
    "alembic": "Alembic",
    "rails": "Rails Active Record migrations",
    "typeorm": "TypeORM",
    "knex": "Knex",
    "none": "no migration tool",
}
FLAG_SYSTEMS: dict[str, str] = {
    "launchdarkly": "LaunchDarkly",
    "unleash": "Unleash",
    "flagsmith": "Flagsmith",
    "growthbook": "GrowthBook",
    "posthog": "PostHog",
    "flagd": "flagd (a flag file)",
    "environment": "environment variables",
    "none": "no feature-flag system",
}
CACHES: dict[str, str] = {
    "redis": "Redis",
    "memcached": "Memcached",
    "cloudfront": "Amazon CloudFront",
    "cloudflare": "Cloudflare",
    "none": "no shared cache",
}
DNS_PROVIDERS: dict[str, str] = {
    "cloudflare": "Cloudflare",
    "route53": "Amazon Route 53",
    "other": "the DNS host",
}

# Spellings people write for the same thing; the generator only ever sees the canonical key.
_ALIASES = {
    "fly.io": "fly",
    "flyio": "fly",
    "k8s": "kubernetes",
    "aws-ecs": "aws",
    "ecs": "aws",
    "compose": "docker-compose",
    "docker compose": "docker-compose",
    "symlink": "release-symlink",
    "releases": "release-symlink",
    "sqlalchemy": "alembic",
    "django-orm": "django",
    "activerecord": "rails",
    "env": "environment",
    "route 53": "route53",
    "aws-route53": "route53",
}


def _canonical(value: Any) -> Any:
    if isinstance(value, str):
        key = value.strip().lower()
        return _ALIASES.get(key, key)
    return value


def _one_of(choices: dict[str, str]) -> BeforeValidator:
    def check(value: Any) -> Any:
        value = _canonical(value)
        if value not in choices:
            raise ValueError(f"expected one of: {', '.join(choices)} (got {value!r})")
        return value

    return BeforeValidator(check)


_Url = Annotated[str, Field(pattern=r"^https?://\S+$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Company(_Section):
    """Who the runbook is for and where users hear from it."""

    name: str = Field(min_length=1, max_length=200)
    product: str | None = Field(default=None, max_length=200)
    support_contact: str = Field(default="support", max_length=200)
    status_page: _Url | None = None


class Escalation(_Section):
    """A next person or role to call, in order (teams only)."""

    role: str = Field(min_length=1, max_length=200)
    contact: str = Field(min_length=1, max_length=200)


class Team(_Section):
    """How many people share incidents; one person means solo guidance throughout."""

    size: int = Field(default=1, ge=1, le=100_000)
    incident_channel: str | None = Field(default=None, max_length=200)
    escalation: list[Escalation] = Field(default_factory=list)

    @property
    def solo(self) -> bool:
        return self.size == 1


class Hosting(_Section):
    """Where the application runs, and the names the provider knows it by."""

    provider: Annotated[str, _one_of(HOSTING_PROVIDERS)]
    app: str | None = Field(default=None, max_length=200)
    region: str | None = Field(default=None, max_length=100)
    namespace: str | None = Field(default=None, max_length=200)
    cluster: str | None = Field(default=None, max_length=200)
    image: str | None = Field(default=None, max_length=300)
    compose_file: str | None = Field(default=None, max_length=300)
    releases_dir: str | None = Field(default=None, max_length=300)
    support: str | None = Field(default=None, max_length=300)


class Database(_Section):
    """The database and the tool that changes its schema."""

    engine: str = Field(default="postgresql", max_length=100)
    orm: Annotated[str, _one_of(ORMS)] = "none"
    migrations_dir: str | None = Field(default=None, max_length=300)
    backups: str | None = Field(default=None, max_length=300)


class FeatureFlags(_Section):
    """The feature-flag system, and where a flag is switched off."""

    provider: Annotated[str, _one_of(FLAG_SYSTEMS)] = "none"
    dashboard: _Url | None = None
    environment: str = Field(default="production", max_length=100)


class Tool(_Section):
    """An observability or error-tracking tool: its name and where to look."""

    provider: str = Field(min_length=1, max_length=100)
    dashboard: _Url | None = None


class Dns(_Section):
    """Where DNS is served and what the failover record points at."""

    provider: Annotated[str, _one_of(DNS_PROVIDERS)] = "other"
    record: str | None = Field(default=None, max_length=300)
    failover_target: str | None = Field(default=None, max_length=300)
    ttl_seconds: int = Field(default=300, ge=1, le=86_400)


class Cache(_Section):
    """The shared cache in front of the data or the pages."""

    provider: Annotated[str, _one_of(CACHES)] = "none"
    key_prefix: str | None = Field(default=None, max_length=200)
    distribution: str | None = Field(default=None, max_length=200)


class Severity(_Section):
    """The scheme used when no ``ic.yaml`` names one, and per-level additions."""

    scheme: str = "P0-P3"
    resolution: dict[str, str] = Field(default_factory=dict)
    examples: dict[str, list[str]] = Field(default_factory=dict)


class CompanyConfig(_Section):
    """The whole ``company.config.yaml``."""

    company: Company
    team: Team = Field(default_factory=Team)
    hosting: Hosting
    database: Database = Field(default_factory=Database)
    feature_flags: FeatureFlags = Field(default_factory=FeatureFlags)
    observability: Tool | None = None
    error_tracking: Tool | None = None
    dns: Dns = Field(default_factory=Dns)
    cache: Cache = Field(default_factory=Cache)
    severity: Severity = Field(default_factory=Severity)


def load_company_config(path: str | os.PathLike[str]) -> CompanyConfig:
    """Read and validate ``company.config.yaml``; a problem names the file, key and expectation."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"{file}: company config not found",
            hint=f"write a {COMPANY_CONFIG} (docs/learning.md shows every key)",
        )
    data = _read_yaml(file)
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping of settings, got {type(data).__name__}")
    try:
        return CompanyConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(file))) from None
