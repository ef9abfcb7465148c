"""Signal text is data: it is stored as given, never executed, never used as a path."""

from __future__ import annotations

import json

from tests.conftest import assert_clean_error
from tests.workspace import Workspace, script_option

HOSTILE = [
    "$(touch pwned-subst)",
    "`touch pwned-backtick`",
    "; touch pwned-semicolon",
    "../../../../tmp/escape",
    "line one\nline two | with pipe",
    "x" * 10_000,
]


def test_hostile_text_is_recorded_verbatim_and_runs_nothing(workspace: Workspace) -> None:
    ws = workspace
    ws.configure([script_option("rollback", "rollback_ok.sh")])
    ws.ok("deploy", "record", "--service", "web", "--version", "v1", "--at", "2026-01-01T00:00:00Z")
    ids = []
    for text in HOSTILE:
        result = ws.ok(
            "declare",
            "--title",
            text,
            "--service",
            "web",
            "--symptom",
            text,
            "--detected-by",
            text[:200],
            "--json",
        )
        ids.append(json.loads(result.stdout)["incident_id"])
    for incident, text in zip(ids, HOSTILE, strict=True):
        shown = json.loads(ws.ok("show", incident, "--json").stdout)
        assert shown["title"] == text.strip()
        intake = ws.read(incident, "incident-intake-log.md")
        assert text.splitlines()[0] in intake
        assert ws.ic("evidence", "verify", incident).returncode == 0
    for marker in ("pwned-subst", "pwned-backtick", "pwned-semicolon"):
        assert not list(ws.root.rglob(marker))
    root = ws.root / ".artifacts" / "incidents"
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())  # beside them: the head log
    assert folders == sorted(ids)


def test_hostile_service_names_never_reach_a_command(workspace: Workspace) -> None:
    ws = workspace
    ws.configure([script_option("rollback", "rollback_ok.sh")])
    refused = ws.ic("declare", "--title", "t", "--service", "web; touch pwned", "--json")
    assert_clean_error(refused, 2, "unknown service 'web; touch pwned' (ic.yaml knows: web)")
    assert ws.ok("list", "--json").stdout.strip() == "[]"
    assert not list(ws.root.rglob("pwned")) and not ws.ran("rollback_ok")


def test_unknown_source_and_empty_title_are_refused(workspace: Workspace) -> None:
    workspace.configure()
    bad_source = workspace.ic("declare", "--title", "t", "--service", "web", "--source", "rumour")
    assert_clean_error(bad_source, 2, "unknown source 'rumour'")
    empty = workspace.ic("declare", "--title", "   ", "--service", "web")
    assert_clean_error(empty, 2, "an incident needs a title")
    assert workspace.ok("list", "--json").stdout.strip() == "[]"


def test_overlong_names_are_refused_not_truncated(workspace: Workspace) -> None:
    workspace.configure()
    long_service = workspace.ic("declare", "--title", "t", "--service", "s" * 129)
    assert_clean_error(long_service, 2, "the service name is 129 characters long; at most 128")
    long_reporter = workspace.ic(
        "declare", "--title", "t", "--service", "web", "--detected-by", "r" * 5000
    )
    assert_clean_error(long_reporter, 2, "detected by is 5000 characters long")
    long_version = workspace.ic("deploy", "record", "--service", "web", "--version", "v" * 300)
    assert_clean_error(long_version, 2, "the version is 300 characters long")
    assert workspace.ok("list", "--json").stdout.strip() == "[]"
