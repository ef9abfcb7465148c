"""Discovery of executors, checks and notifiers through entry points.

Built-ins register exactly as third-party plugins do: an entry point in one of the groups
below, naming a class with a ``slug``, a ``title`` and a Pydantic ``Config``.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

__all__ = ["GROUPS", "available", "load"]

GROUPS = {
    "executor": "incident_commander.executors",
    "check": "incident_commander.checks",
    "notifier": "incident_commander.notifiers",
}


@cache
def _registry(kind: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for point in entry_points(group=GROUPS[kind]):
        found[point.name] = point.load()
    return found


def available(kind: str) -> list[str]:
    """Slugs of the installed plugins of one kind (``executor``, ``check``, ``notifier``)."""
    return sorted(_registry(kind))


def load(kind: str, slug: str) -> Any:
    """The plugin class registered under ``slug``; ``KeyError`` when there is none."""
    registry = _registry(kind)
    if slug not in registry:
        raise KeyError(slug)
    return registry[slug]
