"""Gate 4 and the post-mortem: an empty 5 Whys, a blame finding and a missing prevention item
each fail it by name; supplied (or the finding waived, with a reason), it passes and the
incident closes. The review also comes from a YAML file, whose mistakes are named."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import assert_clean_error
from tests.workspace import Workspace

WHYS = "post-mortem: 5 Whys answered"
PREVENTION = "post-mortem: a prevention action item with an owner and a due date"
BLAMELESS = "blameless: no unwaived blame finding"
BLAME = "Sam skipped the canary stage."


def resolved_incident(ws: Workspace) -> str:
    ws.configure()
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)
    ws.ok("validate", incident, "--yes", "--as", "on-call")
    return incident


def gate4(ws: Workspace, incident: str) -> tuple[int, dict[str, dict[str, Any]]]:
    result = ws.ic("gate", "check", incident, "--gate", "4", "--json")
    criteria = json.loads(result.stdout)["gates"][0]["criteria"]
    return result.returncode, {c["criterion"]: c for c in criteria}


def test_gate_four_names_each_gap_of_the_post_mortem_and_passes_once_supplied(
    workspace: Workspace,
) -> None:
    ws = workspace
    incident = resolved_incident(ws)
    code, criteria = gate4(ws, incident)
    assert code == 0, criteria  # not started, not yet due: the gate waits for it
    assert criteria[WHYS]["found"].startswith("post-mortem not started yet (due ")

    ws.ok(
        "postmortem",
        incident,
        "--as",
        "on-call",
        "--root-cause",
        "releases are not checked against production config before deploy",
        "--went-poorly",
        BLAME,
        "--action",
        "page the database team on replication lag;on-call;2026-12-01;detection",
    )
    code, criteria = gate4(ws, incident)
    assert code == 1
    assert not criteria[WHYS]["passed"]
    assert criteria[WHYS]["found"] == "0 why(s) recorded"
    assert not criteria[PREVENTION]["passed"]
    assert criteria[PREVENTION]["found"] == "no prevention item among 1 action item(s)"
    assert not criteria[BLAMELESS]["passed"]
    assert f"#1 (went poorly 1) '{BLAME}'" in criteria[BLAMELESS]["found"]
    text = ws.ic("gate", "check", incident, "--gate", "4")
    assert "FAIL Gate 4: Resolution & documentation" in text.stdout
    for name in (WHYS, PREVENTION, BLAMELESS):
        assert f"✗ {name}" in text.stdout
    refused = ws.ic("close", incident, "--as", "on-call")
    assert_clean_error(refused, 4, "0 why(s) recorded", "no prevention", BLAME)

    check = ws.ic("postmortem", incident, "--check")
    assert check.returncode == 1
    assert f"#1 [went poorly 1] (open) {BLAME}" in check.stdout
    assert "why: 'Sam' is the subject of 'skipped'" in check.stdout
    assert '"the canary stage" did not happen' in check.stdout

    ws.ok("postmortem", incident, "--why", "v2 read a config key production does not set")
    code, criteria = gate4(ws, incident)
    assert criteria[WHYS]["passed"] and criteria[WHYS]["found"] == "1 why(s) recorded"
    assert code == 1

    ws.ok(
        "action",
        "add",
        incident,
        "--title",
        "check config keys against production in CI",
        "--owner",
        "platform team",
        "--due",
        "2026-12-15",
        "--kind",
        "prevention",
        "--as",
        "on-call",
    )
    code, criteria = gate4(ws, incident)
    assert criteria[PREVENTION]["passed"]
    assert criteria[PREVENTION]["found"] == "1 prevention item(s) (1 open) of 2 action item(s)"
    assert code == 1 and not criteria[BLAMELESS]["passed"]

    assert_clean_error(ws.ic("postmortem", incident, "--waive", "1"), 2, "needs a reason")
    assert_clean_error(
        ws.ic("postmortem", incident, "--waive", "9", "--reason", "x"),
        2,
        "no blame finding #9 (findings are numbered 1 to 1)",
    )
    ws.ok(
        "postmortem",
        incident,
        "--waive",
        "1",
        "--reason",
        "quoted from the pipeline log's step name",
        "--as",
        "on-call",
    )
    code, criteria = gate4(ws, incident)
    assert code == 0, criteria
    assert criteria[BLAMELESS]["found"] == "1 finding(s), all waived"
    timeline = ws.read(incident, "incident-timeline.md")
    assert "blame finding #1 waived by on-call: quoted from the pipeline log's step name" in (
        timeline
    )
    assert "postmortem.waiver" in timeline
    assert ws.ic("evidence", "verify", incident).returncode == 0
    closed = ws.ok("close", incident, "--as", "on-call")
    assert "closed" in closed.stderr


def test_a_reworded_sentence_needs_no_waiver(workspace: Workspace) -> None:
    ws = workspace
    incident = resolved_incident(ws)
    ws.ok("postmortem", incident, "--why", "the canary stage was skipped", "--lucky", BLAME)
    assert not gate4(ws, incident)[1][BLAMELESS]["passed"]

    ws.ok("postmortem", incident, "--lucky", "traffic was low at the time")

    blameless = gate4(ws, incident)[1][BLAMELESS]
    assert blameless["passed"] and blameless["found"] == "no finding"
    shown = json.loads(ws.ok("postmortem", incident, "--check", "--json").stdout)
    assert shown["blame"] == []
    assert shown["postmortem"]["whys"] == 1 and shown["postmortem"]["required"] is True


def test_review_from_a_file_with_every_cause_level(workspace: Workspace) -> None:
    ws = workspace
    incident = resolved_incident(ws)
    (ws.root / "review.yaml").write_text(
        """\
summary: v2 of web failed its health checks; switching back to v1 restored service.
symptom: HTTP 500 on /health
whys:
  - health checks failed on v2
  - v2 needs a config key production lacks
proximate_cause: the v2 deploy
contributing:
  - no config check in the pipeline
root_cause: releases are not checked against production config
systemic_issue: config and code are released separately
went_well: [the rollback took under a second]
prevention: [check config keys in CI]
actions:
  - title: check config keys in CI
    owner: platform team
    due: 2026-12-15
    kind: prevention
    priority: high
"""
    )

    ws.ok("postmortem", incident, "--from", "review.yaml", "--as", "on-call")

    report = ws.read(incident, "INCIDENT-REPORT.md")
    for line in (
        "| Symptom | HTTP 500 on /health |",
        "| Proximate cause | the v2 deploy |",
        "| Contributing factor | no config check in the pipeline |",
        "| Root cause | releases are not checked against production config |",
        "| Systemic issue | config and code are released separately |",
        "2. Why? v2 needs a config key production lacks",
        "**Summary:** v2 of web failed its health checks",
        "## Prevention\n\n- check config keys in CI",
        "| check config keys in CI | platform team | 2026-12-15 | prevention | high | open |",
    ):
        assert line in report, line
    assert "Required for SEV1: due " in report
    assert gate4(ws, incident)[0] == 0
    assert ws.ic("evidence", "verify", incident).returncode == 0

    (ws.root / "unknown.yaml").write_text("whys: [a]\nroot_cuase: typo\n")
    assert_clean_error(
        ws.ic("postmortem", incident, "--from", "unknown.yaml"), 2, "root_cuase: unknown key"
    )
    (ws.root / "bad-date.yaml").write_text("actions:\n  - {text: a, owner: b, due: soon}\n")
    assert_clean_error(ws.ic("postmortem", incident, "--from", "bad-date.yaml"), 2, "actions.0.due")
    (ws.root / "list.yaml").write_text("- just a list\n")
    assert_clean_error(
        ws.ic("postmortem", incident, "--from", "list.yaml"), 2, "expected a mapping"
    )
    (ws.root / "broken.yaml").write_text("whys: [a\n")
    assert_clean_error(
        ws.ic("postmortem", incident, "--from", "broken.yaml"), 2, "not valid YAML at line"
    )
    assert_clean_error(
        ws.ic("postmortem", incident, "--from", "missing.yaml"), 2, "missing.yaml: cannot read"
    )
    mixed = ws.ic("postmortem", incident, "--from", "review.yaml", "--why", "x")
    assert_clean_error(mixed, 2, "--from takes the whole review")
