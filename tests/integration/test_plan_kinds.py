"""The plan fits the incident: containment for what is not a bad deploy, fixing forward, and
readiness checked on a quiet day with ``ic executors check``."""

from __future__ import annotations

import json

import pytest

from tests.conftest import assert_clean_error
from tests.workspace import Workspace, script_option

REVOKE = {**script_option("revoke-key", "noop.sh"), "purpose": "containment"}


def _assess(ws: Workspace, incident: str, *answers: str) -> None:
    ws.ok("assess", incident, "--production", *answers, "--as", "on-call", "--yes")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_security_incident_is_contained_before_anything_is_rolled_back(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.configure([{**REVOKE, "incidents": ["security"]}, script_option("back", "rollback_ok.sh")])
    incident = ws.declare("credentials leaked in logs")
    _assess(ws, incident, "--security")

    planned = ws.ok("plan", incident, "--yes", "--as", "on-call")
    executed = ws.ok("execute", incident)

    assert "order: revoke-key, back" in planned.stdout
    assert "revoke-key: succeeded" in executed.stdout
    assert ws.ran("noop") and not ws.ran("rollback_ok")
    plan = ws.read(incident, "mitigation-plan.md")
    assert "- Kind of incident: bad-deploy, security" in plan
    assert "| revoke-key | script | containment |" in plan
    timeline = ws.read(incident, "incident-timeline.md")
    assert "contain first (bad-deploy, security): revoke-key" in timeline
    decisions = ws.read_json(incident, "decision-log.json")
    prompts = [d["prompt"] for d in decisions["decisions"] if d["kind"] == "mitigation"]
    assert "via revoke-key (script), then if it fails: back" in prompts[-1]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_containment_for_another_kind_of_incident_is_not_proposed(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(
        [{**REVOKE, "incidents": ["data-corruption"]}, script_option("back", "rollback_ok.sh")]
    )
    incident = ws.declare()
    _assess(ws, incident, "--outage")

    planned = ws.ok("plan", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)

    assert "order: back" in planned.stdout
    assert ws.ran("rollback_ok") and not ws.ran("noop")
    assert ws.live_release() == "v1"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_fix_goes_forward_only_once_its_version_was_tested(workspace: Workspace) -> None:
    ws = workspace
    hotfix = {
        **script_option("hotfix", "rollback_ok.sh"),
        "purpose": "fix",
        "tested": {"marker": "tested/{release}.passed"},
    }
    ws.configure([hotfix, script_option("back", "fail.sh")])
    incident = ws.declare()
    _assess(ws, incident, "--outage")

    unnamed = ws.ok("plan", incident, "--option", "hotfix", "--as", "on-call")
    ws.ok("approve", incident, "--no", "--as", "on-call", "--reason", "fix, not roll back")
    untested = ws.ok("plan", incident, "--option", "hotfix", "--fix-version", "v1")
    ws.ok("approve", incident, "--no", "--as", "on-call", "--reason", "fix, not roll back")
    (ws.root / "tested").mkdir()
    (ws.root / "tested" / "v1.passed").write_text("ci run 42 passed\n")
    ready = ws.ok("plan", incident, "--option", "hotfix", "--fix-version", "v1")

    first = ws.read(incident, "incident-timeline.md")
    assert (
        "ready: back; not ready: hotfix: fix version named (no fix version given: plan again "
        "with --fix-version VERSION)" in first
    )
    assert "not ready: hotfix: fix version v1 was tested (missing: " in first
    assert "Proposed action: roll back web to v1 via back (script)" in unnamed.stdout
    assert "Proposed action: roll back web to v1 via back (script)" in untested.stdout
    readiness = ws.read_json(incident, "rollback-readiness-checklist.json")
    found = {i["item"]: i for i in readiness["items"]}
    assert found["hotfix: fix version v1 was tested"]["passed"] is True
    assert found["hotfix: a rollback plan for the fix exists"]["detail"] == "rollback options: back"
    assert "Proposed action: deploy fix v1 of web via hotfix (script)" in ready.stdout
    ws.ok("approve", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert (run["option"], run["status"], run["target_release"]) == ("hotfix", "succeeded", "v1")
    assert not ws.ran("fail")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_executors_check_tells_today_whether_each_option_would_run(workspace: Workspace) -> None:
    ws = workspace
    ws.configure([script_option("back", "rollback_ok.sh"), script_option("gone", "missing.sh")])

    listed = json.loads(ws.ok("executors", "--json").stdout)
    before = ws.ic("executors", "check", "--service", "web")
    ws.ok("deploy", "record", "--service", "web", "--version", "v1", "--at", "2026-01-01T00:00:00Z")
    ws.ok("deploy", "record", "--service", "web", "--version", "v2")
    after = json.loads(ws.ic("executors", "check", "--json").stdout)
    unknown = ws.ic("executors", "check", "--service", "nope")

    kinds = {e["kind"]: e for e in listed}
    assert {"script", "release-symlink"} <= set(kinds)
    assert kinds["script"]["required_fields"] == ["argv"] and kinds["script"]["dry_run"] is True
    assert before.returncode == 1
    assert "FAIL last known good release identified" in before.stdout
    options = {o["name"]: o for o in after[0]["options"]}
    assert after[0]["last_known_good"] == "v1"
    assert options["back"]["ready"] is True
    assert options["gone"]["ready"] is False
    assert any(
        "scripts/missing.sh" in i["detail"] and not i["passed"] for i in options["gone"]["items"]
    )
    assert_clean_error(unknown, 2, "no service 'nope' in ic.yaml")
    assert not ws.ran("rollback_ok")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_containment_option_must_name_its_incidents(workspace: Workspace) -> None:
    ws = workspace
    ws.configure([REVOKE])

    result = ws.ic("executors", "check")

    assert_clean_error(result, 2, "rollback_options", "a containment option names the incidents")
