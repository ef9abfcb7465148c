"""The move table: one rule per move, every refusal explained."""

from __future__ import annotations

from incident_commander.protocol.states import RULES, TERMINAL, Facts, Status, judge


def test_execution_needs_confirmed_severity_and_approval() -> None:
    refused = judge(Status.AWAITING_APPROVAL, Status.EXECUTING, Facts())
    assert not refused.accepted
    assert "severity has not been confirmed" in refused.reason
    assert "no approval of the proposed mitigation is recorded" in refused.reason
    only_severity = judge(
        Status.AWAITING_APPROVAL, Status.EXECUTING, Facts(severity_confirmed=True)
    )
    assert only_severity.reason == "no approval of the proposed mitigation is recorded"
    assert judge(
        Status.AWAITING_APPROVAL,
        Status.EXECUTING,
        Facts(severity_confirmed=True, mitigation_approved=True),
    ).accepted


def test_no_path_skips_approval() -> None:
    for status in Status:
        if status != Status.AWAITING_APPROVAL:
            assert not judge(
                status, Status.EXECUTING, Facts(severity_confirmed=True, mitigation_approved=True)
            ).accepted


def test_unknown_move_lists_the_allowed_ones() -> None:
    verdict = judge(Status.DETECTED, Status.RESOLVED, Facts())
    assert verdict.reason == (
        "cannot move from detected to resolved (allowed: false_positive, halted, triaged)"
    )


def test_halted_resumes_only_where_it_stopped() -> None:
    assert judge(Status.HALTED, Status.PLANNING, Facts(), resume_status=Status.PLANNING).accepted
    refused = judge(Status.HALTED, Status.EXECUTING, Facts(), resume_status=Status.PLANNING)
    assert refused.reason == "the incident is halted; it resumes to planning"


def test_terminal_states_have_no_way_out_but_reopening() -> None:
    for rule in RULES:
        if Status.FALSE_POSITIVE in rule.sources:
            raise AssertionError(f"false_positive should be terminal: {rule}")
    assert {r.target for r in RULES if Status.CLOSED in r.sources} == {Status.REOPENED}
    assert TERMINAL == {Status.CLOSED, Status.FALSE_POSITIVE}
