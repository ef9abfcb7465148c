"""`ic evidence add`: files, a command's output and a page archived as root-cause inputs, listed
in rca-manifest.json, sealed on the timeline, covered by `ic evidence verify`."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from tests.conftest import assert_clean_error
from tests.http_recorder import Reply, recording_server
from tests.workspace import Workspace

TOKEN = "tok-8c1f2e9a77b04d"
POLICIES = [
    {"name": "auto", "approves": ["severity", "mitigation"], "services": ["web"]},
    {"name": "auto-resolve", "approves": ["resolution"], "services": ["web"]},
]


def _manifest(ws: Workspace, incident: str) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in ws.read_json(incident, "rca-manifest.json")["files"]}


def _added(ws: Workspace, incident: str, *args: str, **kwargs: Any) -> list[dict[str, Any]]:
    result = ws.ic("evidence", "add", incident, "--json", *args, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    inputs: list[dict[str, Any]] = json.loads(result.stdout)["inputs"]
    return inputs


def test_a_file_a_command_and_a_page_are_archived_listed_and_sealed(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    log = ws.root / "app.log"
    log.write_text("12:03:01 ERROR checkout: KeyError 'total'\n")

    (logged,) = _added(
        ws, incident, str(log), "--level", "receipts", "--note", "first error", "--as", "alice"
    )
    (ran,) = _added(ws, incident, "--command", "--", sys.executable, "-c", "print('disk 91% full')")
    with recording_server() as server:
        server.answer("GET", "/dash", Reply(200, "error rate 38% since 12:03"))
        (page,) = _added(ws, incident, "--url", f"{server.url}/dash", "--as", "bob")
        assert len(server.received("GET", "/dash")) == 1

    folder = ws.evidence(incident)
    assert (folder / logged["path"]).read_text() == log.read_text()
    assert "disk 91% full" in (folder / ran["path"]).read_text()
    assert "# exit code: 0" in (folder / ran["path"]).read_text()
    assert "error rate 38% since 12:03" in (folder / page["path"]).read_text()

    listed = _manifest(ws, incident)
    for entry in (logged, ran, page):
        on_disk = (folder / entry["path"]).read_bytes()
        assert listed[entry["path"]]["sha256"] == hashlib.sha256(on_disk).hexdigest()
        assert listed[entry["path"]]["size"] == len(on_disk)
        assert listed[entry["path"]]["added_at"]
    assert listed[logged["path"]]["evidence_level"] == "receipts"
    assert listed[logged["path"]]["added_by"] == "alice"
    assert listed[logged["path"]]["note"] == "first error"
    assert listed[logged["path"]]["source"] == f"file {log}"
    assert listed[ran["path"]]["evidence_level"] == "receipts"
    assert listed[ran["path"]]["exit_code"] == 0
    assert listed[page["path"]]["added_by"] == "bob"
    assert listed[page["path"]]["source"] == f"GET {server.url}/dash"

    timeline = ws.read(incident, "incident-timeline.md")
    for entry in (logged, ran, page):
        assert f"root-cause input {entry['path']}" in timeline
        assert f"sha256 {entry['sha256']}" in timeline
    verified = ws.ic("evidence", "verify", incident)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_verify_names_an_input_changed_or_deleted(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    first, second = (ws.root / "a.log", ws.root / "b.log")
    first.write_text("first\n")
    second.write_text("second\n")
    changed, deleted = _added(ws, incident, str(first), str(second))
    folder = ws.evidence(incident)
    (folder / changed["path"]).write_text("first, but quieter\n")
    (folder / deleted["path"]).unlink()

    broken = ws.ic("evidence", "verify", incident, "--json")

    assert broken.returncode == 6
    problems = json.loads(broken.stdout)["problems"]
    assert any(p.startswith(f"{changed['path']}: changed since written") for p in problems)
    assert any(p.startswith(f"{deleted['path']}: missing") for p in problems)


def test_rewriting_an_input_and_its_recorded_hash_is_still_found(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    source = ws.root / "a.log"
    source.write_text("the deploy finished at 12:01\n")
    (entry,) = _added(ws, incident, str(source))
    forged = b"the deploy finished at 11:01\n"
    (ws.evidence(incident) / entry["path"]).write_bytes(forged)
    manifest = ws.evidence(incident) / "rca-manifest.json"
    manifest.write_text(manifest.read_text().replace(entry["sha256"], "0" * 64))
    from sqlalchemy import create_engine, text

    engine = create_engine(ws.database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE artifacts SET sha256 = :h WHERE path = :p"),
            {"h": hashlib.sha256(forged).hexdigest(), "p": entry["path"]},
        )
    engine.dispose()

    problems = json.loads(ws.ic("evidence", "verify", incident, "--json").stdout)["problems"]

    assert f"{entry['path']}: its recorded hash is not the one sealed at event" in " ".join(
        problems
    )
    assert any("is not the one sealed at event" in p and "rca-manifest.json" in p for p in problems)


def test_an_input_over_the_limit_is_refused_naming_the_limit(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(evidence={"max_input_bytes": 2048})
    incident = ws.declare()
    small, big = ws.root / "small.log", ws.root / "big.log"
    small.write_text("fine\n")
    big.write_bytes(b"x" * 4096)

    refused = ws.ic("evidence", "add", incident, str(small), str(big))

    assert_clean_error(refused, 2, "4096 bytes", "evidence.max_input_bytes = 2048 bytes")
    assert not (ws.evidence(incident) / "root-cause-inputs").exists()
    assert "root-cause input" not in ws.read(incident, "incident-timeline.md")


def test_secrets_never_reach_the_archive(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    env = {"DEPLOY_TOKEN": TOKEN}
    leaked = ws.root / "leak.log"
    leaked.write_text(f"auth header: Bearer {TOKEN}\n")
    (from_file,) = _added(ws, incident, str(leaked), env=env)
    (from_command,) = _added(
        ws,
        incident,
        "--command",
        "--",
        sys.executable,
        "-c",
        "import os; print('token', os.environ['DEPLOY_TOKEN'])",
        env=env,
    )

    folder = ws.evidence(incident)
    for entry in (from_file, from_command):
        text = (folder / entry["path"]).read_text()
        assert TOKEN not in text
        assert "[REDACTED]" in text
    assert from_file["original_sha256"] == hashlib.sha256(leaked.read_bytes()).hexdigest()
    assert TOKEN not in "".join(p.read_text() for p in folder.rglob("*") if p.is_file())


def test_a_huge_page_is_clipped_and_a_hanging_command_cut(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(evidence={"max_input_bytes": 4096})
    incident = ws.declare()
    with recording_server() as server:
        server.answer("GET", "/huge", Reply(200, "y" * 100_000))
        (page,) = _added(ws, incident, "--url", f"{server.url}/huge")
    (hung,) = _added(
        ws,
        incident,
        "--timeout",
        "1",
        "--command",
        "--",
        sys.executable,
        "-c",
        "import time; print('started', flush=True); time.sleep(60)",
    )

    folder = ws.evidence(incident)
    assert page["clipped"] is True
    assert (folder / page["path"]).stat().st_size <= 4096
    assert "more bytes cut at 4096 bytes" in (folder / page["path"]).read_text()
    receipt = (folder / hung["path"]).read_text()
    assert "cut at its deadline" in receipt and "started" in receipt
    assert hung["timed_out"] is True


def test_bad_requests_are_refused_without_a_trace(workspace: Workspace, tmp_path: Path) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    assert_clean_error(ws.ic("evidence", "add", incident), 2, "give files to archive")
    assert_clean_error(
        ws.ic("evidence", "add", incident, str(tmp_path / "nope.log")), 2, "cannot read"
    )
    assert_clean_error(
        ws.ic("evidence", "add", incident, str(ws.root), "--level", "receipts"), 2, "not a file"
    )
    log = ws.root / "a.log"
    log.write_text("x\n")
    assert_clean_error(
        ws.ic("evidence", "add", incident, str(log), "--level", "gossip"),
        2,
        "unknown evidence level 'gossip'",
    )
    assert_clean_error(ws.ic("evidence", "add", incident, "--url", "file:///etc/passwd"), 2)
    assert_clean_error(ws.ic("evidence", "add", "INC-19990101-0001", str(log)), 3)


def test_inputs_join_the_post_mortem_package_and_the_report(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(policies=POLICIES)
    incident = ws.declare()
    before = ws.root / "before.log"
    before.write_text("errors from 12:03\n")
    (early,) = _added(ws, incident, str(before))
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call")
    ran = ws.ic("run", incident)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    after = ws.root / "after.log"
    after.write_text("no errors since 12:09\n")
    (late,) = _added(ws, incident, str(after), "--level", "narrative")

    listed = _manifest(ws, incident)
    assert {early["path"], late["path"]} <= set(listed)
    assert listed["root-cause-inputs/deploy-history.json"]["added_by"] == "ic"
    assert listed["root-cause-inputs/readiness-checks.json"]["evidence_level"] == "receipts"
    assert listed[late["path"]]["evidence_level"] == "narrative"
    report = ws.read(incident, "INCIDENT-REPORT.md")
    assert f"`{early['path']}` (artifacts;" in report
    assert f"`{late['path']}` (narrative;" in report
    assert ws.ic("evidence", "verify", incident).returncode == 0
