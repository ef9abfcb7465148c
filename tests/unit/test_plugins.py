"""The typed plugin registries: discovered through entry points, each holding one base class."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from incident_commander import plugins
from incident_commander.checks.base import Check
from incident_commander.executors.base import Executor
from incident_commander.notify.base import Notifier


def test_built_ins_register_through_entry_points() -> None:
    assert plugins.EXECUTORS.available() == [
        "alembic-downgrade",
        "aws-ecs",
        "django-migrate",
        "docker-compose",
        "flag-file",
        "flag-http",
        "fly",
        "git",
        "helm",
        "heroku",
        "http-action",
        "kubernetes",
        "railway",
        "redis-cache",
        "release-symlink",
        "script",
        "sql-down",
        "vercel",
    ]
    assert plugins.CHECKS.available() == [
        "alert-cleared",
        "command",
        "http",
        "prometheus",
        "slo-burn-rate",
        "tcp",
    ]
    assert plugins.NOTIFIERS.available() == ["apprise", "console", "file", "webhook"]
    assert set(plugins.REGISTRIES) == {"executor", "check", "notifier"}


def test_each_registry_loads_its_base_class() -> None:
    assert issubclass(plugins.EXECUTORS.load("script"), Executor)
    assert issubclass(plugins.CHECKS.load("http"), Check)
    assert issubclass(plugins.NOTIFIERS.load("file"), Notifier)
    assert plugins.EXECUTORS.load("release-symlink").slug == "release-symlink"


def test_an_unknown_slug_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        plugins.EXECUTORS.load("teleport")


def test_an_entry_point_naming_no_plugin_of_its_kind_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = "incident_commander.tests"
    point = EntryPoint(name="bogus", value="incident_commander.notify.base:Message", group=group)
    monkeypatch.setattr(plugins, "entry_points", lambda group: [point])
    registry: plugins.Registry[Notifier] = plugins.Registry("notifier", group, Notifier)
    with pytest.raises(plugins.PluginError, match="not a subclass of Notifier"):
        registry.load("bogus")
