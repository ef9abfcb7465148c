"""Discovery of executors, checks and notifiers through entry points, one typed registry each.

Built-ins register exactly as third-party plugins do: an entry point in one of the groups
below, naming a subclass of the kind's base class (``Executor``, ``Check``, ``Notifier``), which
has a ``slug``, a ``title``, a Pydantic ``Config`` and the one method the engine calls.

``EXECUTORS.load(slug)`` is a ``type[Executor]``, ``CHECKS.load(slug)`` a ``type[Check]`` and
``NOTIFIERS.load(slug)`` a ``type[Notifier]``, so every call into a plugin is type-checked.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from threading import RLock
from typing import Generic, TypeAlias, TypeVar, cast

from incident_commander.checks.base import Check
from incident_commander.executors.base import Executor
from incident_commander.notify.base import Notifier

__all__ = [
    "CHECKS",
    "EXECUTORS",
    "NOTIFIERS",
    "REGISTRIES",
    "AnyRegistry",
    "PluginError",
    "Registry",
]

P = TypeVar("P")


class PluginError(TypeError):
    """An entry point names something that is not a plugin of its kind."""


class Registry(Generic[P]):
    """The plugins of one kind, listed once from one entry-point group, each imported when used.

    Listing reads only the installed packages' metadata; a plugin's module is imported the
    first time its slug is loaded, so a command pays only for the plugins it uses.
    """

    def __init__(self, kind: str, group: str, base: type) -> None:
        self.kind = kind
        self.group = group
        self.base = base
        self._points: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, type[P]] = {}
        self._lock = RLock()  # a plugin module may ask its registry while it is imported

    def _listed(self) -> dict[str, EntryPoint]:
        with self._lock:
            if self._points is None:
                self._points = {point.name: point for point in entry_points(group=self.group)}
            return self._points

    def available(self) -> list[str]:
        """Slugs of the installed plugins of this kind."""
        return sorted(self._listed())

    def load(self, slug: str) -> type[P]:
        """The plugin class registered under ``slug``; ``KeyError`` when there is none.

        ``PluginError`` when the entry point names something that is not a plugin of this kind.
        """
        point = self._listed()[slug]
        with self._lock:
            if slug not in self._loaded:
                plugin = point.load()
                if not (isinstance(plugin, type) and issubclass(plugin, self.base)):
                    raise PluginError(
                        f"entry point {point.name!r} of {self.group} names {point.value}, "
                        f"which is not a subclass of {self.base.__name__}"
                    )
                self._loaded[slug] = cast("type[P]", plugin)  # checked just above
            return self._loaded[slug]


EXECUTORS: Registry[Executor] = Registry("executor", "incident_commander.executors", Executor)
CHECKS: Registry[Check] = Registry("check", "incident_commander.checks", Check)
NOTIFIERS: Registry[Notifier] = Registry("notifier", "incident_commander.notifiers", Notifier)

AnyRegistry: TypeAlias = Registry[Executor] | Registry[Check] | Registry[Notifier]

REGISTRIES: dict[str, AnyRegistry] = {
    registry.kind: registry for registry in (EXECUTORS, CHECKS, NOTIFIERS)
}
"""Each registry by the kind it holds (``executor``, ``check``, ``notifier``)."""
