"""Settings: ``ic.yaml`` (found in the working directory, or via ``--config`` / ``IC_CONFIG``)
plus ``IC_*`` environment variables, validated with Pydantic."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from incident_commander.checks.base import CheckConfig
from incident_commander.config_approvals import ApprovalRule, ApprovalSettings, Person
from incident_commander.config_evidence import Diagnostic, Diagnostics, EvidenceSettings
from incident_commander.config_monitoring import MonitoringSettings
from incident_commander.config_probe import AfterDeployProbe, ProbeSettings
from incident_commander.errors import ConfigError
from incident_commander.executors.base import IDENTIFIER, ExecutorConfig
from incident_commander.notify.base import NotifierConfig
from incident_commander.notify.routing import cadence_of, check_cadence, check_routing
from incident_commander.plugins import CHECKS, EXECUTORS, NOTIFIERS, AnyRegistry, PluginError
from incident_commander.protocol.severity import PRESETS, Answers, SeverityScheme

__all__ = [
    "CONFIG_FILE",
    "MAX_CONFIG_BYTES",
    "AfterDeployProbe",
    "AlertSettings",
    "ApprovalKind",
    "ApprovalRule",
    "ApprovalSettings",
    "Diagnostic",
    "EvidenceSettings",
    "MonitoringSettings",
    "Person",
    "Policy",
    "ProbeSettings",
    "ServiceConfig",
    "Settings",
    "ValidationSettings",
    "load_settings",
]

CONFIG_FILE = "ic.yaml"
MAX_CONFIG_BYTES = 1024 * 1024  # far beyond any real configuration; keeps a mistake cheap
ApprovalKind = Literal["severity", "mitigation", "resolution"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _plugin_config(registry: AnyRegistry, base: type[BaseModel], value: Any) -> Any:
    if isinstance(value, base) or not isinstance(value, dict):
        return value
    choices = ", ".join(registry.available())
    slug = value.get("kind")
    if not isinstance(slug, str):
        raise ValueError(f"needs a 'kind' (one of: {choices})")
    try:
        plugin = registry.load(slug)
    except KeyError:
        raise ValueError(f"unknown {registry.kind} kind {slug!r} (one of: {choices})") from None
    except PluginError as exc:  # a broken installed plugin is a configuration problem
        raise ValueError(str(exc)) from None
    return plugin.Config.model_validate(value)


def _validated_by_plugin(registry: AnyRegistry, base: type[BaseModel]) -> BeforeValidator:
    return BeforeValidator(lambda value: _plugin_config(registry, base, value))


_Check = Annotated[CheckConfig, _validated_by_plugin(CHECKS, CheckConfig)]
_Option = Annotated[ExecutorConfig, _validated_by_plugin(EXECUTORS, ExecutorConfig)]
_Notifier = Annotated[NotifierConfig, _validated_by_plugin(NOTIFIERS, NotifierConfig)]


class ServiceConfig(_Strict):
    """A service the tool watches and can roll back."""

    description: str = ""
    url: str | None = None
    probe: ProbeSettings = Field(default_factory=ProbeSettings)
    health_checks: list[_Check] = Field(default_factory=list)
    recovery_checks: list[_Check] = Field(default_factory=list)
    rollback_options: list[_Option] = Field(default_factory=list)
    diagnostics: Diagnostics = Field(default_factory=list)

    @field_validator("rollback_options")
    @classmethod
    def _unique(cls, value: list[ExecutorConfig]) -> list[ExecutorConfig]:
        names = [option.name for option in value]
        doubles = sorted({name for name in names if names.count(name) > 1})
        if doubles:
            raise ValueError(f"option names must be unique (repeated: {', '.join(doubles)})")
        return value


class Policy(_Strict):
    """An approval written down beforehand; it answers only when every condition holds."""

    name: str = Field(pattern=IDENTIFIER.pattern)
    approves: list[ApprovalKind] = Field(min_length=1)
    severities: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    suspect_deploy_within_minutes: float | None = Field(default=None, gt=0)
    actions: list[str] = Field(default_factory=list)


class ValidationSettings(_Strict):
    """Recovery validation: sample every check over a window; pass at ``threshold``."""

    window_seconds: float = Field(default=60, gt=0)
    interval_seconds: float = Field(default=5, gt=0)
    threshold: float = Field(default=0.95, gt=0, le=1)


class SeveritySettings(_Strict):
    """Which scheme, and how soon a severity must be confirmed (gate 1)."""

    scheme: str = "SEV1-4"
    confirmation_sla_minutes: float = Field(default=5, gt=0)
    page_burn_is_top: bool = True  # a page-level SLO burn in production: the top level
    custom: SeverityScheme | None = None

    @model_validator(mode="after")
    def _known(self) -> SeveritySettings:
        if self.custom is None and self.scheme not in PRESETS:
            raise ValueError(
                f"unknown scheme {self.scheme!r} (presets: {', '.join(PRESETS)}; "
                "or define 'custom')"
            )
        return self

    def resolve(self) -> SeverityScheme:
        return self.custom if self.custom is not None else PRESETS[self.scheme]


class MaintenanceWindow(_Strict):
    """Alerts of these services (all when empty) between the two times are not escalated."""

    services: list[str] = Field(default_factory=list)
    starts_at: datetime
    ends_at: datetime
    reason: str = "maintenance"


class AssessRule(_Strict):
    """Severity answers proposed for alerts whose labels match (``ic run`` uses them)."""

    match: dict[str, str] = Field(min_length=1)
    answers: Answers
    by: str | None = Field(default=None, max_length=200)  # recorded as who proposed them


def _default_rules() -> list[AssessRule]:
    return [
        AssessRule(  # a health probe that saw every critical check fail: the service is down
            match={"alertname": "HealthCheckFailing", "severity": "critical"},
            answers=Answers(
                production_affected=True,
                outage=True,
                customer_impact="every request to the service fails its health check",
            ),
            by="health probe",
        ),
        AssessRule(
            match={"severity": "critical"},
            answers=Answers(production_affected=True, outage=True),
        ),
        AssessRule(match={"severity": "page"}, answers=Answers(production_affected=True)),
    ]


class AlertSettings(_Strict):
    """How alerts are grouped, and when one is a false positive."""

    group_by: list[str] = Field(default_factory=lambda: ["service"], min_length=1)
    confirmation_window_seconds: float = Field(default=60, ge=0)
    flap_flips: int = Field(default=4, ge=2)
    flap_window_seconds: float = Field(default=600, gt=0)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    assess: list[AssessRule] = Field(default_factory=_default_rules)
    max_alerts_per_delivery: int = Field(default=1000, ge=1, le=100_000)
    storm_groups_per_minute: int = Field(default=20, ge=1)
    delivery_retention_hours: float = Field(default=24, gt=0)


class Settings(_Strict):
    """Everything the tool is configured with."""

    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    config_path: Path | None = Field(default=None, exclude=True)
    database_url: str | None = None
    evidence_root: str = ".artifacts/incidents"
    suspect_deploy_window_minutes: float = Field(default=60, gt=0)
    severity: SeveritySettings = Field(default_factory=SeveritySettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    notifications: list[_Notifier] = Field(default_factory=list)
    # Per severity, the audiences told of it (a severity not named here reaches every audience).
    routing: dict[str, list[str]] = Field(default_factory=dict)
    # Per severity, minutes between status updates while open (unset: the top two levels, 15).
    update_cadence_minutes: dict[str, Annotated[float, Field(gt=0)]] | None = None
    message_templates: str | None = None  # a folder of <kind>.j2 overriding the shipped ones
    public_url: str | None = Field(default=None, pattern=r"^https?://\S+$")  # links in messages
    policies: list[Policy] = Field(default_factory=list)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)
    people: list[Person] = Field(default_factory=list)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    webhook_secret: SecretStr | None = None
    webhook_signature_tolerance_seconds: float = Field(default=300, gt=0, le=86_400)

    @field_validator("services")
    @classmethod
    def _service_names(cls, value: dict[str, ServiceConfig]) -> dict[str, ServiceConfig]:
        for name in value:
            if not IDENTIFIER.match(name):
                raise ValueError(f"service name {name!r} must be letters, digits, '.', '_', '-'")
        return value

    @model_validator(mode="after")
    def _roles_held(self) -> Settings:
        held = {role for person in self.people for role in person.roles}
        names = [person.name for person in self.people]
        if len(set(names)) != len(names):
            raise ValueError("people: each name may appear once")
        for kind in ("severity", "mitigation", "resolution"):
            rule = self.approvals.rule(kind)
            wanted = [*rule.requires, *(r for roles in rule.requires_for.values() for r in roles)]
            missing = sorted({role for role in wanted if role not in held})
            if missing:
                raise ValueError(
                    f"approvals.{kind} requires the role(s) {', '.join(missing)}, which no one "
                    "in people holds"
                )
        return self

    def person(self, name: str) -> Person | None:
        """The configured person of that name, if any."""
        return next((p for p in self.people if p.name == name), None)

    @model_validator(mode="after")
    def _routing(self) -> Settings:
        problems = check_routing(self.notifications, self.routing, self.scheme.names)
        problems += check_cadence(self.update_cadence_minutes, self.scheme.names)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def update_cadence(self) -> dict[str, float]:
        """Minutes between status updates, per severity that has a cadence."""
        return cadence_of(self.update_cadence_minutes, self.scheme.names)

    @property
    def templates_dir(self) -> Path | None:
        """The folder of custom message templates, if one is configured."""
        return self.resolve_path(self.message_templates) if self.message_templates else None

    @property
    def scheme(self) -> SeverityScheme:
        return self.severity.resolve()

    @property
    def evidence_dir(self) -> Path:
        return self.base_dir / self.evidence_root

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.base_dir / 'ic.db'}"

    def resolve_path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path


def _describe(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {key}: {message}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> Any:
    """The parsed content of ``path``, or a ConfigError saying what is wrong with the file."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: larger than {MAX_CONFIG_BYTES // 1024 // 1024} MiB; "
            "a configuration is a few pages of settings"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 (byte {exc.start} is 0x{raw[exc.start]:02x}); save it as UTF-8"
        ) from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a configuration") from None


def _find_config(explicit: str | os.PathLike[str] | None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                f"{path}: config file not found", hint="run `ic init` to write a starter ic.yaml"
            )
        return path
    env = os.environ.get("IC_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"{path}: config file named by IC_CONFIG not found")
        return path
    local = Path.cwd() / CONFIG_FILE
    return local if local.is_file() else None


def load_settings(explicit: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate the configuration; with no ic.yaml anywhere, use the defaults."""
    path = _find_config(explicit)
    data: Any = {}
    base_dir = Path.cwd()
    if path is not None:
        path = path.resolve()
        base_dir = path.parent
        data = _read_yaml(path)
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    url = os.environ.get("IC_DATABASE_URL")
    if url:
        data = {**data, "database_url": url}
    secret = os.environ.get("IC_WEBHOOK_SECRET")
    if secret:
        data = {**data, "webhook_secret": secret}
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(path or "settings"))) from None
    settings.base_dir = base_dir
    settings.config_path = path
    channels = []
    for index, channel in enumerate(settings.notifications):
        try:
            channels.append(channel.prepared(base_dir))
        except ValueError as exc:
            raise ConfigError(f"{path or 'settings'}: notifications.{index}: {exc}") from None
    settings.notifications = channels
    return settings
