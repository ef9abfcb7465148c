"""The package's public names are complete and importable."""

from __future__ import annotations

import incident_commander
from incident_commander import errors


def test_every_error_is_exported() -> None:
    names = {
        n
        for n in dir(errors)
        if isinstance(getattr(errors, n), type)
        and issubclass(getattr(errors, n), Exception)
        and getattr(errors, n).__module__ == errors.__name__
    }
    assert names == set(errors.__all__)
    assert names <= set(incident_commander.__all__)


def test_public_names_resolve() -> None:
    for name in incident_commander.__all__:
        assert getattr(incident_commander, name) is not None


def test_exit_codes_differ_by_kind() -> None:
    assert errors.ConfigError.exit_code == 2
    assert errors.IncidentNotFound.exit_code == 3
    assert errors.ExecutionRefused.exit_code == errors.TransitionRejected.exit_code == 4
