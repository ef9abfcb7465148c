"""The mitigation options of ``ic.yaml`` described as runbook steps.

A runbook generated beside an ``ic.yaml`` names each configured option, its kind and what it
runs, so the steps a person reads agree with what ``ic execute`` would do. Provider recipes are
shown as the exact commands their executor runs (option fields filled in, ``$RELEASE`` where
the last known good release goes); other kinds are described from their option's fields.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from incident_commander.config import Settings
from incident_commander.executors.base import ExecutorConfig
from incident_commander.executors.recipe_data import PLACEHOLDER, Opt, Raw, Recipe
from incident_commander.plugins import EXECUTORS

__all__ = [
    "CATEGORIES",
    "PROVIDER_KINDS",
    "ConfiguredOption",
    "configured_options",
    "shell_words",
]

# Which section of the runbook an option's kind belongs to; any other kind is listed under
# "other configured actions".
CATEGORIES: dict[str, str] = {
    **dict.fromkeys(
        (
            "kubernetes",
            "helm",
            "docker-compose",
            "fly",
            "vercel",
            "heroku",
            "railway",
            "aws-ecs",
            "git",
            "release-symlink",
            "script",
        ),
        "deploy",
    ),
    **dict.fromkeys(("alembic-downgrade", "django-migrate", "sql-down"), "database"),
    **dict.fromkeys(("flag-file", "flag-http"), "flags"),
    "redis-cache": "cache",
}
# The executor kinds that roll back each hosting provider of company.config.yaml.
PROVIDER_KINDS: dict[str, tuple[str, ...]] = {
    "vercel": ("vercel",),
    "aws": ("aws-ecs",),
    "railway": ("railway",),
    "fly": ("fly",),
    "heroku": ("heroku",),
    "kubernetes": ("kubernetes", "helm"),
    "docker-compose": ("docker-compose",),
    "release-symlink": ("release-symlink", "git"),
}
# Run-time placeholders become shell variables a reader sets first.
_RUNTIME = {"release": "$RELEASE", "incident_id": "$INCIDENT_ID"}
_PLAIN = re.compile(r"^[\w@%+=:,./$-]+$")


@dataclass(frozen=True)
class ConfiguredOption:
    """One option of one service: its name, kind, category, and what it does in words."""

    service: str
    name: str
    kind: str
    title: str
    category: str
    purpose: str
    summary: str
    commands: list[str] = field(default_factory=list)

    @property
    def uses_release(self) -> bool:
        """Whether the steps shown need the last known good release (``$RELEASE``)."""
        return any("$RELEASE" in text for text in (self.summary, *self.commands))


def shell_words(argv: Iterable[str]) -> str:
    """An argv shown as a command line a reader can paste (``$RELEASE`` left to expand)."""
    shown = []
    for arg in argv:
        if _PLAIN.match(arg):
            shown.append(arg)
        elif "$" in arg and not re.search(r"[\"\\`]", arg):
            shown.append(f'"{arg}"')
        else:
            shown.append(shlex.quote(arg))
    return " ".join(shown)


def _fill(text: str, values: dict[str, Any]) -> str:
    """Option fields first (they may name run-time placeholders themselves, as a revision of
    ``{release}`` does), then the service and the shell variables, as the executor fills them."""

    def field_value(match: re.Match[str]) -> str:
        name = match.group(1)
        value = values.get(name) if name not in (*_RUNTIME, "service") else None
        return match.group(0) if value is None else str(value)

    def runtime(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "service" and "service" in values:
            return str(values["service"])
        return _RUNTIME.get(name, match.group(0))

    return PLACEHOLDER.sub(runtime, PLACEHOLDER.sub(field_value, text))


def _unset(value: object) -> bool:
    return value is None or value == "" or value is False


def _recipe_commands(recipe: Recipe, config: ExecutorConfig, service: str) -> list[str]:
    """The commands a provider recipe runs for this option, as its executor builds them."""
    values = {**config.model_dump(), "service": service}
    main = next(step for step in recipe.steps if step.when is None)
    commands = []
    for step in recipe.steps:
        if step.when is not None and not getattr(config, step.when, False):
            continue
        argv: list[str] = []
        for part in step.argv:
            if isinstance(part, Opt):
                names = {n for a in part.args for n in PLACEHOLDER.findall(a)} - {*_RUNTIME}
                if any(_unset(values.get(n)) for n in names - {"service"}):
                    continue
                argv += [_fill(arg, values) for arg in part.args]
            else:
                argv.append(str(part) if isinstance(part, Raw) else _fill(part, values))
        if step is main:
            argv += [_fill(arg, values) for arg in getattr(config, "extra_args", [])]
        argv[0] = getattr(config, "binary", None) or argv[0]
        commands.append(shell_words(argv))
    return commands


def _argv(config: ExecutorConfig, name: str, service: str) -> str | None:
    value = getattr(config, name, None)
    if not value:
        return None
    return shell_words(_fill(arg, {"service": service}) for arg in value)


def _restart(config: ExecutorConfig, service: str) -> list[str]:
    restart = _argv(config, "restart", service)
    return [restart] if restart else []


def _script(config: ExecutorConfig, service: str) -> tuple[str, list[str]]:
    where = getattr(config, "cwd", None)
    summary = f"runs the script in `{where}`" if where else "runs the script"
    return summary, [_argv(config, "argv", service) or ""]


def _symlink(config: ExecutorConfig, service: str) -> tuple[str, list[str]]:
    link = getattr(config, "current_link", "current")
    releases = getattr(config, "releases_dir", "releases")
    return (
        f"points `{link}` at `{releases}/$RELEASE` in one atomic rename, then restarts",
        _restart(config, service),
    )


def _git(config: ExecutorConfig, service: str) -> tuple[str, list[str]]:
    ref = getattr(config, "ref", None) or "$RELEASE"
    tree = getattr(config, "work_tree", ".")
    shown = _fill(ref, {"service": service})
    return f"checks out `{shown}` in `{tree}`", _restart(config, service)


def _redis(config: ExecutorConfig, service: str) -> tuple[str, list[str]]:
    patterns = [_fill(p, {"service": service}) for p in getattr(config, "patterns", [])]
    scope = ", ".join(f"`{p}`" for p in patterns) or "every key (allow_all)"
    batch = getattr(config, "batch_size", 500)
    return (
        f"deletes the keys matching {scope} on the configured Redis (SCAN, then UNLINK in "
        f"batches of {batch}; never KEYS)",
        [],
    )


def _flag_file(config: ExecutorConfig, service: str) -> tuple[str, list[str]]:
    flag = getattr(config, "flag", "?")
    off = getattr(config, "off_variant", "off")
    path = getattr(config, "path", "the flag file")
    return (f"sets flag `{flag}` to `{off}` in `{path}`", _restart(config, service))


def _flag_http(config: ExecutorConfig, service: str) -> tuple[str, list[str]]:
    flag = getattr(config, "flag", "?")
    api = getattr(config, "api", "flag")
    where = getattr(config, "environment", None)
    base = getattr(config, "base_url", None)
    return (
        f"switches flag `{flag}` off through the {api} API"
        + (f" at {base}" if base else "")
        + (f" in environment `{where}`" if where else ""),
        [],
    )


def _http_action(config: ExecutorConfig, service: str) -> tuple[str, list[str]]:
    request = getattr(config, "request", None)
    method = getattr(request, "method", "POST")
    url = getattr(request, "url", "the configured URL")
    return (f"sends `{method} {_fill(str(url), {'service': service})}`", [])


def _alembic(config: ExecutorConfig, service: str) -> tuple[str, list[str]]:
    alembic = list(getattr(config, "alembic", None) or ["alembic"])
    ini = getattr(config, "config", None)
    extra = ["-c", str(ini)] if ini else []
    revision = str(getattr(config, "revision", "-1"))
    return (
        f"downgrades the schema to revision `{revision}`",
        [shell_words([*alembic, *extra, "downgrade", revision])],
    )


def _django(config: ExecutorConfig, service: str) -> tuple[str, list[str]]:
    python = str(getattr(config, "python", "python"))
    manage = str(getattr(config, "manage", "manage.py"))
    app = str(getattr(config, "app_label", "APP"))
    migration = str(getattr(config, "migration", "PREVIOUS"))
    return (
        f"migrates `{app}` back to `{migration}`",
        [shell_words([python, manage, "migrate", app, migration])],
    )


def _sql_down(config: ExecutorConfig, service: str) -> tuple[str, list[str]]:
    script = getattr(config, "script", "the down script")
    migration = getattr(config, "migration", "?")
    run = _argv(config, "run", service)
    return (
        f"applies the down script `{script}` and records migration `{migration}` as undone",
        [run] if run else [],
    )


_DESCRIBE: dict[str, Callable[[ExecutorConfig, str], tuple[str, list[str]]]] = {
    "script": _script,
    "release-symlink": _symlink,
    "git": _git,
    "redis-cache": _redis,
    "flag-file": _flag_file,
    "flag-http": _flag_http,
    "http-action": _http_action,
    "alembic-downgrade": _alembic,
    "django-migrate": _django,
    "sql-down": _sql_down,
}


def _describe(config: ExecutorConfig, service: str) -> tuple[str, str, list[str]]:
    """The executor's title, a sentence of what the option does, and its commands."""
    executor = EXECUTORS.load(config.kind)
    recipe = getattr(executor, "recipe", None)
    if isinstance(recipe, Recipe):
        return executor.title, "runs", _recipe_commands(recipe, config, service)
    describe = _DESCRIBE.get(config.kind)
    if describe is None:
        return executor.title, f"runs the {executor.title} executor", []
    summary, commands = describe(config, service)
    return executor.title, summary, [c for c in commands if c]


def configured_options(settings: Settings) -> list[ConfiguredOption]:
    """Every option of every service of ``ic.yaml``, in the order ``ic plan`` tries them."""
    found = []
    for service, service_config in settings.services.items():
        for config in service_config.rollback_options:
            title, summary, commands = _describe(config, service)
            found.append(
                ConfiguredOption(
                    service=service,
                    name=config.name,
                    kind=config.kind,
                    title=title,
                    category=CATEGORIES.get(config.kind, "other"),
                    purpose=config.purpose,
                    summary=summary,
                    commands=commands,
                )
            )
    return found
