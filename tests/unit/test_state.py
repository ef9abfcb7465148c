"""Typed views of an incident's JSON state read the stored dicts as they are."""

from __future__ import annotations

from incident_commander.checks.base import CheckVerdict
from incident_commander.store.models import Incident
from incident_commander.store.state import plan_of, resolution_of, validation_of


def test_an_empty_incident_reads_as_defaults() -> None:
    inc = Incident(id="INC-1")
    assert plan_of(inc).chosen == [] and plan_of(inc).target_release is None
    assert plan_of(inc).revision == 0
    assert validation_of(inc).attempts == [] and not validation_of(inc).passed
    assert resolution_of(inc).review == {} and resolution_of(inc).false_positive is None
    assert not resolution_of(inc).stakeholders_informed


def test_views_read_the_stored_keys_and_ignore_the_rest() -> None:
    inc = Incident(
        id="INC-2",
        plan={"chosen": ["switch", "script"], "target_release": "v1", "revision": 2, "x": 1},
        validation={
            "attempts": [
                {"verdict": "failed", "critical_pass_rate": 0.5, "samples": []},
                {"verdict": "passed", "critical_pass_rate": 1.0, "critical_samples": 4},
            ],
            "latest_verdict": "passed",
        },
        resolution={"summary": "recovered", "review": None, "stakeholders_informed": True},
    )
    assert plan_of(inc).chosen == ["switch", "script"]
    assert plan_of(inc).target_release == "v1" and plan_of(inc).revision == 2
    latest = validation_of(inc).latest
    assert latest is not None and latest.verdict is CheckVerdict.PASSED
    assert validation_of(inc).passed and latest.critical_samples == 4
    assert resolution_of(inc).review == {} and resolution_of(inc).stakeholders_informed


def test_the_latest_attempt_decides() -> None:
    inc = Incident(
        id="INC-3",
        validation={"attempts": [{"verdict": "passed"}, {"verdict": "failed"}]},
    )
    assert not validation_of(inc).passed
