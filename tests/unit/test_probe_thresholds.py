"""Which pace a probe keeps: the after-deploy one inside the window, the normal one elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from incident_commander.config import ProbeSettings
from incident_commander.watch.pace import DeployMark, LatestDeploy, ProbePace, probe_pace

NOW = datetime(2026, 11, 23, 3, 0, 0, tzinfo=UTC)
SETTINGS = ProbeSettings.model_validate(
    {
        "interval_seconds": 10,
        "failure_threshold": 3,
        "after_deploy": {"window_seconds": 600, "interval_seconds": 1, "failure_threshold": 2},
    }
)
NORMAL = ProbePace(interval_seconds=10, failure_threshold=3)


def deployed(seconds_ago: float, version: str = "v2") -> DeployMark:
    return DeployMark(version=version, deployed_at=NOW - timedelta(seconds=seconds_ago))


def test_a_deploy_inside_the_window_sets_the_after_deploy_pace() -> None:
    deploy = deployed(30)
    pace = probe_pace(SETTINGS, deploy, NOW)
    assert pace == ProbePace(interval_seconds=1, failure_threshold=2, rechecks=1, deploy=deploy)
    assert pace.deploy_aware
    assert pace.describe() == (
        "deploy-aware probing: every 1 s, 2 in a row, since deploy v2 at 2026-11-23T02:59:30Z"
    )


def test_the_deploy_moment_itself_is_inside_the_window() -> None:
    assert probe_pace(SETTINGS, deployed(0), NOW).deploy_aware


@pytest.mark.parametrize("seconds_ago", [600, 601, 86_400])
def test_once_the_window_has_passed_the_normal_pace_is_back(seconds_ago: float) -> None:
    pace = probe_pace(SETTINGS, deployed(seconds_ago), NOW)
    assert pace == NORMAL
    assert pace.describe() == "probing: every 10 s, 3 in a row"


def test_a_deploy_dated_in_the_future_does_not_count_yet() -> None:
    assert probe_pace(SETTINGS, deployed(-5), NOW) == NORMAL


def test_no_deploy_on_record_keeps_the_normal_pace() -> None:
    assert probe_pace(SETTINGS, None, NOW) == NORMAL


def test_without_after_deploy_a_fresh_deploy_changes_nothing() -> None:
    plain = ProbeSettings(interval_seconds=10, failure_threshold=3)
    assert plain.after_deploy is None
    assert probe_pace(plain, deployed(1), NOW) == NORMAL


def test_after_deploy_defaults_are_faster_and_recheck_once() -> None:
    settings = ProbeSettings.model_validate({"after_deploy": {}})
    after = settings.after_deploy
    assert after is not None
    assert (after.window_seconds, after.interval_seconds, after.failure_threshold) == (900, 1, 2)
    assert after.rechecks == 1


def test_an_after_deploy_interval_longer_than_the_normal_one_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        ProbeSettings.model_validate(
            {"interval_seconds": 5, "after_deploy": {"interval_seconds": 30}}
        )
    assert "after_deploy.interval_seconds (30) must not be longer than interval_seconds (5)" in (
        str(caught.value)
    )


@pytest.mark.parametrize(
    "after_deploy",
    [
        {"window_seconds": 0},
        {"interval_seconds": -1},
        {"failure_threshold": 0},
        {"rechecks": 6},
        {"window": 60},
    ],
)
def test_after_deploy_values_out_of_range_are_refused(after_deploy: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        ProbeSettings.model_validate({"after_deploy": after_deploy})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_latest_deploy_is_read_at_most_once_per_interval() -> None:
    clock = Clock()
    on_record = [deployed(60, "v1")]
    latest = LatestDeploy(lambda: on_record[-1], every=10, clock=clock)
    assert latest() == deployed(60, "v1")
    on_record.append(deployed(0, "v2"))
    clock.now += 5
    assert latest() == deployed(60, "v1")  # not read again within the interval
    assert latest.reads == 1
    clock.now += 5
    assert latest() == deployed(0, "v2")
    assert latest.reads == 2


def test_a_failed_read_keeps_the_deploy_known_so_far() -> None:
    clock = Clock()
    answers: list[DeployMark | Exception] = [deployed(60, "v1"), OSError("database gone")]

    def read() -> DeployMark | None:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    latest = LatestDeploy(read, every=1, clock=clock)
    assert latest() == deployed(60, "v1")
    clock.now += 1
    assert latest() == deployed(60, "v1")
    assert latest.reads == 2
