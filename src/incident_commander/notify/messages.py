"""Message kinds and their Jinja2 templates: what the engine says, in the channel's format.

Each kind is a template ``<kind>.j2`` with two blocks, ``subject`` and ``body``. The shipped
ones live in ``reports/templates/messages``; a folder named by ``message_templates`` in ic.yaml
may override any of them. Every value a template prints with ``{{ … }}`` is data: it is escaped
for the channel's format and its mentions are neutralised; only text written in the template
itself can mention anyone. A template that fails is replaced by the shipped one, and the
failure is reported in ``Rendered.problem`` for the record.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    Template,
)
from jinja2.sandbox import SandboxedEnvironment

from incident_commander.notify.base import BodyFormat
from incident_commander.notify.text import escape_value, truncate

__all__ = [
    "PUBLIC_KINDS",
    "PUBLIC_STATES",
    "MessageKind",
    "Rendered",
    "public_state",
    "render",
    "warm_up",
]


class MessageKind(StrEnum):
    """What a message is about; each has a template of the same name."""

    INCIDENT_OPENED = "incident-opened"
    SEVERITY_CONFIRMED = "severity-confirmed"
    APPROVAL_REQUESTED = "approval-requested"
    MITIGATION_STARTED = "mitigation-started"
    MITIGATION_RESULT = "mitigation-result"
    RECOVERY_VERIFIED = "recovery-verified"
    RECOVERY_FAILED = "recovery-failed"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    STATUS_UPDATE = "status-update"
    STATUS_PAGE_UPDATE = "status-page-update"
    USER_EMAIL = "user-email"
    POSTMORTEM_INVITE = "postmortem-invite"
    INTERNAL_UPDATE = "internal-update"
    TEST = "test"


# Messages written for the public: the only ones a public audience (customers) receives.
PUBLIC_KINDS = frozenset(
    {MessageKind.STATUS_UPDATE, MessageKind.STATUS_PAGE_UPDATE, MessageKind.USER_EMAIL}
)
PUBLIC_STATES = ("Investigating", "Identified", "Monitoring", "Resolved")
_PUBLIC_STATE_OF = {
    "detected": "Investigating",
    "triaged": "Investigating",
    "reopened": "Investigating",
    "halted": "Investigating",
    "planning": "Identified",
    "awaiting_approval": "Identified",
    "executing": "Identified",
    "validating": "Monitoring",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
    "closed": "Resolved",
    "false_positive": "Resolved",
}


def public_state(status: str) -> str:
    """The public state (Investigating, Identified, Monitoring, Resolved) of a status."""
    return _PUBLIC_STATE_OF.get(status, "Investigating")


@dataclass(frozen=True)
class Rendered:
    """A message ready for one channel, and what went wrong with a custom template, if anything."""

    subject: str
    body: str
    problem: str | None = None


def _shipped_loader() -> BaseLoader:
    return PackageLoader("incident_commander.reports", "templates/messages")


@lru_cache(maxsize=32)
def _environment(fmt: BodyFormat, overrides: str | None) -> SandboxedEnvironment:
    loader: BaseLoader = _shipped_loader()
    if overrides is not None:
        loader = ChoiceLoader([FileSystemLoader(overrides), loader])
    return SandboxedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        finalize=lambda value: escape_value(value, fmt),
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def warm_up(formats: tuple[BodyFormat, ...] = ("text", "markdown", "html")) -> None:
    """Compile every shipped message template now (a long-running door does it at start, so
    the first incident's steps do not), for the ``formats`` its channels write."""
    for kind in MessageKind:
        for fmt in {"text", *formats}:
            with suppress(Exception):  # a broken template is reported when it is rendered
                _environment(fmt, None).get_template(f"{kind.value}.j2")


def _block(template: Template, name: str, context: dict[str, Any]) -> str:
    if name not in template.blocks:
        raise LookupError(f"{template.name} has no '{name}' block")
    return "".join(template.blocks[name](template.new_context(context))).strip()


def _render_with(
    kind: str, context: dict[str, Any], fmt: BodyFormat, overrides: str | None
) -> tuple[str, str]:
    name = f"{kind}.j2"
    subject = _block(_environment("text", overrides).get_template(name), "subject", context)
    body = _block(_environment(fmt, overrides).get_template(name), "body", context)
    return " ".join(subject.split()), body


def _plain(kind: MessageKind, context: dict[str, Any], fmt: BodyFormat) -> tuple[str, str]:
    """The last resort when no template renders: the kind and the incident, plainly."""
    incident = context.get("incident") or {}
    subject = f"[{incident.get('severity') or '-'}] {incident.get('service', '')}: {kind.value}"
    body = f"{kind.value} — incident {incident.get('id', '')}: {incident.get('title', '')}"
    return escape_value(subject, "text"), escape_value(body, fmt)


def _custom(overrides: Path | None, kind: str) -> str | None:
    if overrides is None or not (overrides / f"{kind}.j2").is_file():
        return None
    return str(overrides)


def render(
    kind: MessageKind,
    context: dict[str, Any],
    *,
    fmt: BodyFormat = "text",
    max_chars: int = 4000,
    overrides: Path | None = None,
) -> Rendered:
    """The message of ``kind`` for a channel writing ``fmt``, cut to ``max_chars``."""
    problem = None
    custom = _custom(overrides, kind.value)
    try:
        subject, body = _render_with(kind.value, context, fmt, custom)
    except Exception as exc:  # a broken template must not lose the message, nor stop the step
        where = Path(custom) / f"{kind.value}.j2" if custom else f"shipped {kind.value}.j2"
        problem = f"template {where}: {type(exc).__name__}: {exc}"
        try:
            subject, body = _render_with(kind.value, context, fmt, None)
        except Exception:
            subject, body = _plain(kind, context, fmt)
    return Rendered(
        truncate(subject, 250), truncate(body, max_chars), problem[:500] if problem else None
    )
