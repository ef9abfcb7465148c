"""A rollback recipe as data: argv templates, credentials, dry run and state check.

Templates name fields of the option's config (``{deployment}``, validated when ``ic.yaml`` is
loaded) and the run-time identifiers ``{release}``, ``{service}`` and ``{incident_id}``, which
only ``render_argv`` fills. ``words`` writes a template as words split on spaces (never by a
shell); ``Opt`` marks arguments kept only when the fields they name are set; ``Raw`` an
argument whose braces are the tool's own (a JSONPath). The readers pick what is live out of
what a state check printed. ``recipes.RecipeExecutor`` runs a recipe.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator

from incident_commander.executors.toolkit import check_placeholders

__all__ = [
    "ENV_NAME",
    "NAME",
    "PLACEHOLDER",
    "RUNTIME",
    "Argv",
    "Opt",
    "Raw",
    "Recipe",
    "Step",
    "Template",
    "compose_tag",
    "helm_app_version",
    "image_tag",
    "last_line",
    "task_definition",
    "words",
]

RUNTIME = ("release", "service", "incident_id")
# A kube context, an image reference, a file: never starts with "-", so never reads as a flag.
NAME = r"^[A-Za-z0-9_.][A-Za-z0-9._:/@+-]{0,255}$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TEMPLATE_TEXT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:-]{0,127}")


def _template(value: str) -> str:
    """An identifier that may name run-time placeholders: ``41``, ``{release}``, ``v{release}``."""
    check_placeholders([value], RUNTIME)
    if not _TEMPLATE_TEXT.fullmatch(PLACEHOLDER.sub("x", value)):
        raise ValueError(f"{value!r} must be an identifier, optionally with {{release}}")
    return value


Template = Annotated[str, AfterValidator(_template)]


class Raw(str):
    """An argument passed as written: its braces are the tool's own, not placeholders."""

    __slots__ = ()


@dataclass(frozen=True, init=False)
class Opt:
    """Arguments kept only when every option field they name is set (``--context {context}``)."""

    args: tuple[str, ...]

    def __init__(self, *args: str) -> None:
        object.__setattr__(self, "args", args)


Argv = tuple[str | Opt, ...]


def words(*parts: str | Opt) -> Argv:
    """An argv template written as words: each string is split on spaces (never by a shell);
    ``Raw`` and ``Opt`` parts stay whole."""
    argv: list[str | Opt] = []
    for part in parts:
        argv += [part] if isinstance(part, (Raw, Opt)) else part.split()
    return tuple(argv)


@dataclass(frozen=True)
class Step:
    """One command of a rollback; ``when`` names a boolean option field that turns it on."""

    argv: Argv
    when: str | None = None


def last_line(text: str) -> str | None:
    """The last non-empty line of a state check's output."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else None


@dataclass(frozen=True)
class Recipe:
    """A rollback as data: the commands, the credentials, the dry run and the state check.

    ``credentials`` lists alternatives (one complete set suffices); ``state`` prints what is
    live, ``read_state`` picks it from the output, and ``expect`` is what it shows once the
    rollback took effect.
    """

    steps: tuple[Step, ...]
    credentials: tuple[tuple[str, ...], ...] = ()
    dry_run: Argv | None = None
    state: Argv | None = None
    read_state: Callable[[str], str | None] = last_line
    expect: str = "{release}"

    @property
    def program(self) -> str:
        first = self.steps[0].argv[0]
        assert isinstance(first, str)
        return first

    def argvs(self) -> Iterator[Argv]:
        yield from (step.argv for step in self.steps)
        yield from (argv for argv in (self.dry_run, self.state) if argv is not None)
        yield (self.expect,)

    def placeholders(self) -> set[str]:
        """Every name a template of this recipe uses."""
        found: set[str] = set()
        for argv in self.argvs():
            for part in argv:
                for arg in part.args if isinstance(part, Opt) else (part,):
                    if not isinstance(arg, Raw):
                        found.update(PLACEHOLDER.findall(arg))
        return found


# -- readers of what a state check printed ----------------------------------------------


def image_tag(text: str) -> str | None:
    """The tag of the image reference printed (``registry:5000/shop/web:v41`` → ``v41``)."""
    words = text.split()
    if not words:
        return None
    name = words[0].split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else None


def _json_rows(text: str) -> list[dict[str, Any]]:
    """A JSON array, one object, or one object per line: the rows a tool printed."""
    try:
        found = json.loads(text)
    except ValueError:
        found = [json.loads(line) for line in text.splitlines() if line.strip()]
    rows = found if isinstance(found, list) else [found]
    return [row for row in rows if isinstance(row, dict)]


def helm_app_version(text: str) -> str | None:
    """The app version of the newest revision in ``helm history -o json``."""
    rows = _json_rows(text)
    version = rows[-1].get("app_version") if rows else None
    return str(version) if version else None


def compose_tag(text: str) -> str | None:
    """The image tag of the service in ``docker compose images --format json``."""
    for row in _json_rows(text):
        tag = row.get("Tag", row.get("tag"))
        if tag:
            return str(tag)
    return None


def task_definition(text: str) -> str | None:
    """``family:revision`` of a task definition ARN (``…:task-definition/web:42`` → ``web:42``)."""
    line = text.strip()
    return line.rsplit("/", 1)[-1] if line and line != "None" else None
