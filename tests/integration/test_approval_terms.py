"""Approvals with a deadline and named roles: an unanswered prompt escalates or halts, a late
answer is refused, and a decision needing several roles is taken only when each said yes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import assert_clean_error
from tests.server import Server
from tests.waiting import until
from tests.workspace import Workspace, script_option

PEOPLE = [
    {"name": "alice", "roles": ["incident-commander"]},
    {"name": "bob", "roles": ["release-manager"]},
    {"name": "carol", "roles": ["security"]},
]
ROLES = {
    "mitigation": {
        "requires": ["incident-commander", "release-manager"],
        "requires_for": {"security": ["security"]},
    }
}


def _decisions(ws: Workspace, incident: str) -> list[dict[str, Any]]:
    return list(ws.read_json(incident, "decision-log.json")["decisions"])


def _past(expires_at: str) -> bool:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z") > expires_at


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unanswered_severity_prompt_is_asked_again_and_escalated(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.configure(approvals={"severity": {"ttl_minutes": 0.01, "escalate_to": "incident-leads"}})
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call")
    first = _decisions(ws, incident)[-1]
    until(lambda: _past(first["expires_at"]), "the first deadline")

    ws.ok("watch", "--once")
    second = _decisions(ws, incident)[-1]
    until(lambda: _past(second["expires_at"]), "the second deadline")
    late = ws.ic("approve", incident, "--yes", "--as", "on-call")

    decisions = _decisions(ws, incident)
    assert [(d["kind"], d["answer"], d["approver"]) for d in decisions] == [
        ("severity", "expired", "deadline"),
        ("severity", "expired", "deadline"),
        ("severity", None, None),
    ]
    assert "asked again, escalated to incident-leads" in decisions[0]["rationale"]
    assert_clean_error(late, 4, "severity confirmation expired at", "not taken (asked again)")
    comms = ws.read(incident, "communication-log.md")
    rows = [line for line in comms.splitlines() if line.startswith("| ")]
    assert sum("[ESCALATION] [SEV1] web: severity confirmation unanswered" in r for r in rows) == 2
    timeline = ws.read(incident, "incident-timeline.md")
    assert "severity confirmation: answer within 0.01 min" in timeline
    assert "severity confirmation expired unanswered; escalating to incident-leads" in timeline


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_expired_mitigation_approval_halts_and_planning_asks_again(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.configure(
        [script_option("back", "rollback_ok.sh")],
        approvals={"mitigation": {"ttl_minutes": 0.01, "on_expiry": "halt"}},
    )
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--as", "on-call")
    until(lambda: _past(_decisions(ws, incident)[-1]["expires_at"]), "the deadline")

    late = ws.ic("approve", incident, "--yes", "--as", "on-call")
    refused = ws.ic("execute", incident)
    halted = json.loads(ws.ok("show", incident, "--json").stdout)
    ws.configure([script_option("back", "rollback_ok.sh")])  # no deadline this time
    ws.ok("plan", incident, "--as", "on-call", "--yes")
    ws.ok("execute", incident)

    assert_clean_error(late, 4, "mitigation approval expired", "the incident halted")
    assert refused.returncode != 0 and not halted["pending_approval"]
    assert halted["status"] == "halted"
    assert "mitigation approval expired after 0.01 min unanswered" in halted["halt_reason"]
    assert ws.ran("rollback_ok") and ws.live_release() == "v1"
    answers = [(d["kind"], d["answer"]) for d in _decisions(ws, incident)]
    assert answers == [("severity", "yes"), ("mitigation", "expired"), ("mitigation", "yes")]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_mitigation_needing_two_roles_waits_for_both(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(
        [script_option("back", "rollback_ok.sh")],
        people=PEOPLE,
        approvals=ROLES,
        policies=[{"name": "auto", "approves": ["mitigation"]}],
    )
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "alice", "--yes")
    ws.ok("plan", incident, "--as", "alice")

    stranger = ws.ic("approve", incident, "--yes", "--as", "dave")
    first = ws.ok("approve", incident, "--yes", "--as", "alice", "--reason", "v2 is bad")
    again = ws.ic("approve", incident, "--yes", "--as", "alice")
    early = ws.ic("execute", incident)
    ws.ok("approve", incident, "--yes", "--as", "bob", "--reason", "rollback is safe")
    ws.ok("execute", incident)

    assert_clean_error(stranger, 2, "'dave' is not among the people in ic.yaml")
    assert_clean_error(again, 2, "still needs release-manager; alice holds incident-commander")
    assert (early.returncode != 0 and not ws.ran("rollback_ok")) or ws.live_release() == "v1"
    assert "still needed: release-manager" in first.stdout + ws.read(
        incident, "incident-timeline.md"
    )
    mitigation = [d for d in _decisions(ws, incident) if d["kind"] == "mitigation"][-1]
    assert mitigation["answer"] == "yes"
    assert mitigation["approver"] == "alice (incident-commander), bob (release-manager)"
    assert mitigation["requires"] == ["incident-commander", "release-manager"]
    assert [(v["approver"], v["roles"], v["answer"]) for v in mitigation["votes"]] == [
        ("alice", ["incident-commander"], "yes"),
        ("bob", ["release-manager"], "yes"),
    ]
    assert "alice: v2 is bad; bob: rollback is safe" == mitigation["rationale"]
    assert ws.live_release() == "v1"


def test_a_security_incident_needs_security_and_one_no_decides(tmp_path: Any) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    ws = Workspace(root, f"sqlite:///{tmp_path / 'ic.db'}")
    ws.configure([script_option("back", "rollback_ok.sh")], people=PEOPLE, approvals=ROLES)
    incident = ws.declare()
    server = Server(root, ws.env, "--no-probes")
    try:
        base = f"/api/v1/incidents/{incident}"
        answers = {"production_affected": True, "security_compromised": True}
        server.post(f"{base}/assess", {"answers": answers, "assessed_by": "alice"})
        server.post(f"{base}/approvals", {"answer": "yes", "approver": "alice"})
        server.post(f"{base}/plan", {"chosen_by": "alice"})
        alice = server.post(f"{base}/approvals", {"answer": "yes", "approver": "alice"})
        bob = server.post(f"{base}/approvals", {"answer": "yes", "approver": "bob"})
        carol = server.post(
            f"{base}/approvals",
            {"answer": "no", "approver": "carol", "reason": "keys leaked: rotate first"},
        )
    finally:
        assert "Traceback" not in server.stop()

    assert alice.status_code == 200 and alice.json()["status"] == "awaiting_approval"
    assert bob.status_code == 200 and bob.json()["pending_approval"] == "mitigation"
    assert carol.status_code == 200 and carol.json()["status"] == "planning"
    mitigation = [d for d in _decisions(ws, incident) if d["kind"] == "mitigation"][-1]
    assert mitigation["requires"] == ["incident-commander", "release-manager", "security"]
    assert (mitigation["answer"], mitigation["approver"]) == ("no", "carol (security)")
    assert mitigation["rationale"] == "carol: keys leaked: rotate first"
    assert not ws.ran("rollback_ok")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_required_role_nobody_holds_is_a_config_error(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(people=PEOPLE, approvals={"resolution": {"requires": ["auditor"]}})

    result = ws.ic("list")

    assert_clean_error(result, 2, "approvals.resolution requires the role(s) auditor")


def test_an_answer_after_the_deadline_is_refused_by_the_api_and_asked_again(
    tmp_path: Any,
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    ws = Workspace(root, f"sqlite:///{tmp_path / 'ic.db'}")
    ws.configure(
        [script_option("back", "rollback_ok.sh")],
        approvals={"mitigation": {"ttl_minutes": 0.01, "escalate_to": "incident-leads"}},
    )
    incident = ws.declare()
    server = Server(root, ws.env, "--no-probes")
    try:
        base = f"/api/v1/incidents/{incident}"
        answers = {"production_affected": True, "outage": True}
        server.post(f"{base}/assess", {"answers": answers, "assessed_by": "on-call"})
        server.post(f"{base}/approvals", {"answer": "yes", "approver": "on-call"})
        server.post(f"{base}/plan", {"chosen_by": "on-call"})
        until(lambda: _past(_decisions(ws, incident)[-1]["expires_at"]), "the deadline")
        late = server.post(f"{base}/approvals", {"answer": "yes", "approver": "on-call"})
        after = server.client.get(base).json()
    finally:
        assert "Traceback" not in server.stop()

    assert late.status_code == 409, late.text
    assert "mitigation approval expired at" in late.json()["error"]
    assert after["pending_approval"] == "mitigation" and after["status"] == "awaiting_approval"
    mitigation = [d for d in _decisions(ws, incident) if d["kind"] == "mitigation"]
    assert mitigation[0]["answer"] == "expired"
    assert "escalated to incident-leads" in mitigation[0]["rationale"]
    assert not ws.ran("rollback_ok")
