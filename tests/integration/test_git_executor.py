"""The git executor against real git: a deploy folder with a good (v1) and a bad (v2) tag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from incident_commander.executors.git_checkout import ref_problem
from tests.conftest import assert_clean_error
from tests.integration.test_rollback_failures import _kill_mid_run
from tests.workspace import Workspace, script_option

# Commits made by the tests carry a fixed author and ignore the machine's git settings.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "release bot",
    "GIT_AUTHOR_EMAIL": "release-bot@example.invalid",
    "GIT_COMMITTER_NAME": "release bot",
    "GIT_COMMITTER_EMAIL": "release-bot@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    """Run real git in ``cwd``; its output, stripped."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def deploy_repo(ws: Workspace) -> dict[str, str]:
    """``deploy/``: a git work tree with tags v1 (healthy) and v2 (broken), v2 checked out.

    ``current`` points at it, so the demo service serves whatever the work tree holds once it
    restarts. Returns the commit of each tag.
    """
    tree = ws.root / "deploy"
    tree.mkdir()
    git(tree, "init", "--quiet")
    commits = {}
    for version, healthy in (("v1", True), ("v2", False)):
        (tree / "release.json").write_text(json.dumps({"version": version, "healthy": healthy}))
        git(tree, "add", "release.json")
        git(tree, "commit", "--quiet", "-m", f"release {version}")
        git(tree, "tag", version)
        commits[version] = git(tree, "rev-parse", "HEAD")
    git(tree, "checkout", "--quiet", "--detach", "v2")
    (ws.root / "current").unlink()
    (ws.root / "current").symlink_to("deploy")
    return commits


def head(ws: Workspace) -> str:
    return git(ws.root / "deploy", "rev-parse", "HEAD")


def restart_argv(ws: Workspace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "incident_commander.demo.service",
        "restart",
        "--workdir",
        str(ws.root),
        "--port",
        str(ws.port),
    ]


def git_option(ws: Workspace, **extra: Any) -> dict[str, Any]:
    return {
        "name": "checkout",
        "kind": "git",
        "work_tree": "deploy",
        "restart": restart_argv(ws),
        **extra,
    }


def to_plan(ws: Workspace) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Declare and assess (SEV1), then plan with the mitigation approved."""
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    return incident, ws.ic("plan", incident, "--yes", "--as", "on-call")


def checklist_item(ws: Workspace, incident: str, name: str) -> dict[str, Any]:
    items = ws.read_json(incident, "rollback-readiness-checklist.json")["items"]
    found = [item for item in items if item["item"] == name]
    assert found, [item["item"] for item in items]
    return dict(found[0])


def halted_because(ws: Workspace, incident: str) -> str:
    shown = json.loads(ws.ok("show", incident, "--json").stdout)
    assert shown["status"] == "halted", shown
    return str(shown["halt_reason"])


def test_rollback_checks_out_the_good_tag_restarts_and_recovers(workspace: Workspace) -> None:
    ws = workspace
    commits = deploy_repo(ws)
    ws.configure([git_option(ws)])
    incident, planned = to_plan(ws)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    ref = checklist_item(ws, incident, "checkout: ref v1 exists")
    assert ref["passed"] and ref["detail"] == f"commit {commits['v1'][:12]}"
    assert checklist_item(ws, incident, "checkout: work tree is clean")["passed"]

    result = ws.ok("execute", incident)

    assert "checkout: succeeded" in result.stdout
    assert head(ws) == commits["v1"]
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert (run["status"], run["release_before"], run["release_after"]) == ("succeeded", "v2", "v1")
    argvs = [command["argv"] for command in run["commands"]]
    assert argvs[:3] == [
        ["git", "status", "--porcelain"],
        ["git", "rev-parse", "--verify", "--quiet", "v1^{commit}"],
        ["git", "-c", "advice.detachedHead=false", "checkout", "--detach", commits["v1"]],
    ]
    assert argvs[3] == restart_argv(ws)
    assert run["commands"][0]["env"]["GIT_TERMINAL_PROMPT"] == "0"
    timeline = ws.read(incident, "incident-timeline.md")
    assert "[AUTOMATION] checkout executed: succeeded" in timeline
    decisions = ws.read_json(incident, "decision-log.json")
    assert "roll back web to v1 via checkout (git)" in json.dumps(decisions)
    validated = ws.ic("validate", incident)
    assert "Recovery validation failed" not in validated.stdout
    assert ws.read_json(incident, "recovery-validation.json")["attempts"][-1]["verdict"] == "passed"


def test_dirty_work_tree_halts_at_readiness(workspace: Workspace) -> None:
    ws = workspace
    commits = deploy_repo(ws)
    (ws.root / "deploy" / "release.json").write_text('{"version": "v2", "healthy": true}')
    (ws.root / "deploy" / "hotfix.txt").write_text("edited by hand on the server\n")
    ws.configure([git_option(ws)])

    incident, planned = to_plan(ws)

    assert planned.returncode != 0
    item = checklist_item(ws, incident, "checkout: work tree is clean")
    assert item["passed"] is False
    assert item["detail"] == "2 local change(s): M release.json; ?? hotfix.txt"
    assert "checkout: work tree is clean: 2 local change(s)" in halted_because(ws, incident)
    assert head(ws) == commits["v2"]
    assert ws.ic("execute", incident).returncode == 4


def test_ref_missing_from_the_repository_halts(workspace: Workspace) -> None:
    ws = workspace
    commits = deploy_repo(ws)
    git(ws.root / "deploy", "tag", "--delete", "v1")
    ws.configure([git_option(ws)])

    incident, planned = to_plan(ws)

    assert planned.returncode != 0
    item = checklist_item(ws, incident, "checkout: ref v1 exists")
    assert (item["passed"], item["detail"]) == (False, "no commit named v1 in deploy")
    assert "checkout: ref v1 exists: no commit named v1 in deploy" in halted_because(ws, incident)
    assert head(ws) == commits["v2"]


def test_failing_restart_falls_through_to_the_next_option(workspace: Workspace) -> None:
    ws = workspace
    commits = deploy_repo(ws)
    ws.configure(
        [
            git_option(ws, restart=["scripts/fail.sh", "--release", "{release}"]),
            script_option("second", "rollback_ok.sh"),
        ]
    )
    incident, planned = to_plan(ws)
    assert planned.returncode == 0, planned.stdout + planned.stderr

    result = ws.ok("execute", incident)

    assert "checkout: failed — restart failed: exit code 3: cannot reach the deploy API" in (
        result.stdout
    )
    assert "second: succeeded" in result.stdout
    assert ws.ran("fail") and ws.ran("rollback_ok")
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [(r["option"], r["status"]) for r in runs] == [
        ("checkout", "failed"),
        ("second", "succeeded"),
    ]
    # The checkout itself was done before the restart failed, and the record says so.
    assert runs[0]["release_after"] == "v1" and head(ws) == commits["v1"]
    assert runs[0]["commands"][-1]["argv"] == [
        str(ws.root / "scripts" / "fail.sh"),
        "--release",
        "v1",
    ]
    timeline = ws.read(incident, "incident-timeline.md")
    assert "[ERROR] Rollback script failed: restart failed: exit code 3" in timeline
    assert "Trying next: second" in ws.read(incident, "communication-log.md")


def test_version_that_looks_like_an_option_never_reaches_git(workspace: Workspace) -> None:
    ws = workspace
    commits = deploy_repo(ws)
    ws.configure([git_option(ws)])
    evil = "--upload-pack=touch pwned"
    ws.ok(
        "deploy", "record", "--service", "web", f"--version={evil}", "--at", "2025-12-31T00:00:00Z"
    )
    ws.ok("deploy", "record", "--service", "web", "--version", "v2")
    incident = ws.ok(
        "declare", "--title", "500s", "--service", "web", "--source", "user-report", "--quiet"
    ).stdout.strip()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")

    planned = ws.ic("plan", incident, "--yes", "--as", "on-call")

    assert planned.returncode != 0
    item = checklist_item(ws, incident, "checkout: ref to check out is a known commit")
    assert item["passed"] is False
    assert item["detail"].startswith(f"ref {evil!r} is not a plain ref name")
    assert "checkout: ref to check out is a known commit" in halted_because(ws, incident)
    assert not (ws.root / "deploy" / "pwned").exists() and head(ws) == commits["v2"]


def test_fixed_ref_that_is_an_option_is_refused_at_config_load(workspace: Workspace) -> None:
    ws = workspace
    ws.configure([git_option(ws, ref="--orphan")])

    result = ws.ic("deploy", "record", "--service", "web", "--version", "v1")

    assert_clean_error(result, 2, "ic.yaml", "ref", "not a plain ref name")


def test_fixed_ref_is_checked_out_whatever_the_deploy_records_say(workspace: Workspace) -> None:
    ws = workspace
    commits = deploy_repo(ws)
    git(ws.root / "deploy", "branch", "last-good", "v1")
    git(ws.root / "deploy", "tag", "--delete", "v1")
    ws.configure([git_option(ws, ref="last-good")])
    incident, planned = to_plan(ws)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert checklist_item(ws, incident, "checkout: ref last-good exists")["passed"]

    ws.ok("execute", incident)

    assert head(ws) == commits["v1"]
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert run["release_after"] == "last-good"


def test_missing_git_and_a_folder_inside_another_repository_halt(workspace: Workspace) -> None:
    ws = workspace
    deploy_repo(ws)
    (ws.root / "deploy" / "static").mkdir()
    ws.configure(
        [
            git_option(ws, name="no-git", git="tools/git"),
            git_option(ws, name="nested", work_tree="deploy/static"),
            git_option(ws, name="plain", work_tree="releases"),
        ]
    )

    incident, planned = to_plan(ws)

    assert planned.returncode != 0
    found = checklist_item(ws, incident, "no-git: tools/git exists and is executable")
    assert found["detail"] == "tools/git not found"
    nested = checklist_item(ws, incident, "nested: deploy/static is a git work tree")
    assert nested["passed"] is False
    assert "not at its top: a checkout would move that whole repository" in nested["detail"]
    plain = checklist_item(ws, incident, "plain: releases is a git work tree")
    assert plain["passed"] is False and "not a git repository" in plain["detail"]
    reason = halted_because(ws, incident)
    assert "no-git: tools/git exists and is executable" in reason and "nested:" in reason


@pytest.mark.slow
def test_killed_mid_restart_is_settled_by_the_git_state(workspace: Workspace) -> None:
    ws = workspace
    commits = deploy_repo(ws)
    ws.configure(
        [git_option(ws, restart=[str(ws.root / "scripts" / "hang.sh")], restart_timeout_seconds=60)]
    )
    incident, planned = to_plan(ws)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    _kill_mid_run(ws, incident)
    assert head(ws) == commits["v1"]

    again = ws.ok("execute", incident)

    assert "HEAD is v1" in again.stdout and "the rollback took effect" in again.stdout
    assert (ws.root / "ran-hang").read_text().count("ran") == 1
    assert json.loads(ws.ok("show", incident, "--json").stdout)["status"] == "validating"
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert (run["status"], run["release_after"]) == ("succeeded", "v1")


@pytest.mark.parametrize(
    ("ref", "allowed"),
    [
        ("v1", True),
        ("release-2026.01.5", True),
        ("0123456789abcdef0123456789abcdef01234567", True),
        ("-v1", False),
        ("--orphan", False),
        ("v1..v2", False),
        ("v1.lock", False),
        ("v1.", False),
        ("HEAD~1", False),
        ("v1^{tree}", False),
        ("release/1.2", False),
        ("", False),
    ],
)
def test_only_plain_ref_names_pass(ref: str, allowed: bool) -> None:
    assert (ref_problem(ref) is None) is allowed
