"""Execution statuses and check verdicts are enums whose values are the strings stored."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from incident_commander.checks.base import CheckVerdict
from incident_commander.executors.base import ExecutionResult, ExecutionStatus


def test_stored_values_are_unchanged() -> None:
    assert [s.value for s in ExecutionStatus] == [
        "started",
        "succeeded",
        "failed",
        "timed_out",
        "interrupted",
    ]
    assert [v.value for v in CheckVerdict] == ["passed", "failed"]
    assert orjson.dumps({"verdict": CheckVerdict.PASSED}) == b'{"verdict":"passed"}'
    assert f"{ExecutionStatus.TIMED_OUT}" == "timed_out"


def test_a_plugin_may_still_report_a_plain_string() -> None:
    result = ExecutionResult(status="failed", error="exit code 1")
    assert result.status is ExecutionStatus.FAILED
    assert result.model_dump(mode="json")["status"] == "failed"


def test_an_executor_reports_only_an_outcome() -> None:
    with pytest.raises(ValidationError):
        ExecutionResult(status="started")
