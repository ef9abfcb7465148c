"""Nothing runs blind: refusals are clear, exit non-zero, and run nothing."""

from __future__ import annotations

import json

from tests.conftest import assert_clean_error
from tests.workspace import Workspace, script_option


def _counts(ws: Workspace, incident: str) -> tuple[int, str]:
    shown = json.loads(ws.ok("show", incident, "--json").stdout)
    return len(shown["timeline"]), shown["status"]


def test_execute_before_severity_confirmation_refuses_and_runs_nothing(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.configure([script_option("rollback", "rollback_ok.sh")])
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call")
    before = _counts(ws, incident)

    result = ws.ic("execute", incident)

    assert_clean_error(
        result, 4, "refusing to execute", "severity has not been confirmed", "Nothing was run"
    )
    assert not ws.ran("rollback_ok")
    assert ws.live_release() == "v2"
    assert _counts(ws, incident) == before
    assert not (ws.evidence(incident) / "mitigation-execution-report.json").exists()


def test_execute_before_approval_refuses_and_runs_nothing(workspace: Workspace) -> None:
    ws = workspace
    ws.configure([script_option("rollback", "rollback_ok.sh")])
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident)

    result = ws.ic("execute", incident)

    assert_clean_error(result, 4, "no approval of the proposed mitigation is recorded")
    assert not ws.ran("rollback_ok")
    assert _counts(ws, incident)[1] == "awaiting_approval"

    # A "no" is recorded and sends the incident back to planning; still nothing runs.
    ws.ok("approve", incident, "--no", "--as", "on-call", "--reason", "wait for the DBA")
    assert_clean_error(ws.ic("execute", incident), 4, "refusing to execute")
    assert not ws.ran("rollback_ok")
    decisions = ws.read_json(incident, "decision-log.json")["decisions"]
    assert decisions[-1]["answer"] == "no"
    assert decisions[-1]["rationale"] == "wait for the DBA"


def test_unknown_incident_id_is_a_clear_error(workspace: Workspace) -> None:
    workspace.configure()
    for command in (
        ["show"],
        ["execute"],
        ["approve", "--yes", "--as", "x"],
        ["gate", "check"],
        ["evidence", "verify"],
        ["report"],
        ["run"],
    ):
        result = (
            workspace.ic(*command, "INC-19990101-0042")
            if command[0] in ("gate", "evidence")
            else workspace.ic(command[0], "INC-19990101-0042", *command[1:])
        )
        assert_clean_error(result, 3, "no incident with id 'INC-19990101-0042'")


def test_answer_to_an_approval_that_is_not_pending(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()

    nothing = ws.ic("approve", incident, "--yes", "--as", "on-call")
    assert_clean_error(nothing, 4, "no approval is pending", "pending: nothing")

    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call")
    wrong = ws.ic("approve", incident, "--kind", "mitigation", "--yes", "--as", "on-call")
    assert_clean_error(
        wrong, 4, "no mitigation approval is pending", "pending: severity confirmation"
    )
    resolve = ws.ic("resolve", incident, "--yes", "--as", "on-call")
    assert_clean_error(resolve, 4, "no resolution confirmation is pending")
    decisions = ws.read_json(incident, "decision-log.json")["decisions"]
    assert [d["answer"] for d in decisions] == [None]


def test_a_person_must_say_who_answers(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call")
    result = ws.ic("approve", incident, "--yes", "--as", "  ")
    assert_clean_error(result, 2, "needs the name of who gives it")


def test_missing_readiness_halts_with_the_reason(workspace: Workspace) -> None:
    ws = workspace
    ws.configure([script_option("rollback", "does-not-exist.sh")])
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    planned = ws.ok("plan", incident)
    assert "Halted: rollback prerequisites unmet" in planned.stderr
    assert "does-not-exist.sh" in planned.stderr
    checklist = ws.read_json(incident, "rollback-readiness-checklist.json")
    assert checklist["passed"] is False
    failed = [i for i in checklist["items"] if not i["passed"]]
    assert (
        failed[0]["item"] == "rollback: script scripts/does-not-exist.sh exists and is executable"
    )
    assert_clean_error(ws.ic("execute", incident), 4, "refusing to execute")
    needs = ws.ic("run", incident)
    assert needs.returncode == 8
    assert "the missing input: rollback prerequisites unmet" in needs.stdout
