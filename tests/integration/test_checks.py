"""Checks against a real local HTTP service and real commands."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from incident_commander.checks.command import CommandCheck
from incident_commander.checks.http import HttpCheckConfig
from incident_commander.checks.window import run_check, validate_window
from incident_commander.demo import service
from tests.workspace import Workspace, free_port


@pytest.fixture
def healthy(tmp_path: Path) -> object:
    ws = Workspace(tmp_path, "sqlite://")
    (tmp_path / "current").unlink()
    (tmp_path / "current").symlink_to("releases/v1")
    ws.start()
    yield ws
    ws.stop()


def test_http_check_judges_status_body_and_latency(healthy: Workspace) -> None:
    url = f"http://127.0.0.1:{healthy.port}/health"
    ok = run_check(HttpCheckConfig(name="h", url=url, body_contains='"version": "v1"'))
    assert ok.passed and ok.observed.startswith("status 200")
    wrong_body = run_check(HttpCheckConfig(name="h", url=url, body_contains="v9"))
    assert not wrong_body.passed and "body contains 'v9'" in wrong_body.expected
    too_slow = run_check(HttpCheckConfig(name="h", url=url, max_latency_ms=0.001))
    assert not too_slow.passed and "latency <= 0.001 ms" in too_slow.expected


def test_http_check_reports_an_unreachable_host() -> None:
    result = run_check(
        HttpCheckConfig(name="h", url=f"http://127.0.0.1:{free_port()}/", timeout_seconds=1)
    )
    assert not result.passed
    assert result.observed.startswith("ConnectError")


def test_command_check_uses_the_exit_code() -> None:
    assert run_check(CommandCheck.Config(name="c", argv=[sys.executable, "-c", "pass"])).passed
    failed = run_check(CommandCheck.Config(name="c", argv=[sys.executable, "-c", "exit(3)"]))
    assert not failed.passed and failed.observed == "exit code 3"
    missing = run_check(CommandCheck.Config(name="c", argv=["/no/such/program"]))
    assert not missing.passed and "could not start" in missing.observed


def test_validation_window_needs_the_threshold_of_critical_samples(healthy: Workspace) -> None:
    good = HttpCheckConfig(name="up", url=f"http://127.0.0.1:{healthy.port}/health")
    down = HttpCheckConfig(
        name="down", url=f"http://127.0.0.1:{free_port()}/", critical=False, timeout_seconds=0.2
    )
    attempt = validate_window([good, down], window_s=0.6, interval_s=0.2, threshold=0.95)
    assert attempt["verdict"] == "passed"
    assert attempt["critical_pass_rate"] == 1.0
    assert attempt["checks"]["down"]["pass_rate"] == 0.0
    service.stop(healthy.root)
    healthy.running = False
    failed = validate_window([good], window_s=0.4, interval_s=0.2, threshold=0.95)
    assert failed["verdict"] == "failed" and failed["critical_pass_rate"] == 0.0
