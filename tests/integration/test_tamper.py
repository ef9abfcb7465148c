"""The record cannot be quietly rewritten: each edit, to the database or to the folder, is named.

One incident is run to resolution once (a policy approves the mitigation, people the rest);
each case works on a copy of it, edits it, re-renders the folder from the store the way the
tool would (``Engine.sync``, then ``ic report``), and expects ``ic evidence verify`` to fail
and say what broke.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from incident_commander.app import Commander
from incident_commander.config import load_settings
from tests.conftest import run_ic
from tests.workspace import Workspace

KEY = "tamper-test-key"
JSON_COLUMNS = {
    "assessment": (
        "SELECT assessment FROM incidents WHERE id = :i",
        "UPDATE incidents SET assessment = :v WHERE id = :i",
    ),
    "validation": (
        "SELECT validation FROM incidents WHERE id = :i",
        "UPDATE incidents SET validation = :v WHERE id = :i",
    ),
}


@dataclass
class Copy:
    """A copy of the finished incident's workspace: database, ic.yaml and evidence."""

    root: Path
    incident: str
    database_url: str | None = None  # default: the SQLite file of the copy

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.root / 'ic.db'}"

    @property
    def evidence(self) -> Path:
        return self.root / ".artifacts" / "incidents" / self.incident

    def ic(self, *args: str, key: str | None = KEY) -> Any:
        env = {"IC_DATABASE_URL": self.url, "IC_EVIDENCE_KEY": key or ""}
        return run_ic(*args, cwd=self.root, env=env)

    def sql(self, statement: str, **params: Any) -> Any:
        """Run one statement in its own transaction; return the first column of a SELECT."""
        engine = create_engine(self.url)
        try:
            with engine.begin() as connection:
                result = connection.execute(text(statement), params)
                return result.scalar_one() if result.returns_rows else None
        finally:
            engine.dispose()

    def edit_json(self, column: str, change: Callable[[dict[str, Any]], None]) -> None:
        read, write = JSON_COLUMNS[column]
        value = self.sql(read, i=self.id)
        value = json.loads(value) if isinstance(value, str) else value  # PostgreSQL: decoded
        change(value)
        self.sql(write, v=json.dumps(value), i=self.id)

    @property
    def id(self) -> str:
        return self.incident

    def rerender(self) -> None:
        """Bring the folder in line with the (edited) store, as the tool itself would."""
        commander = Commander(load_settings(self.root / "ic.yaml"))
        try:
            commander.engine.sync(self.incident)
        finally:
            commander.close()
        assert self.ic("report", self.incident).returncode == 0


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Copy]:
    root = tmp_path_factory.mktemp("tamper") / "ws"
    root.mkdir()
    ws = Workspace(root, f"sqlite:///{root / 'ic.db'}")
    ws.configure(policies=[{"name": "auto", "approves": ["mitigation"], "services": ["web"]}])
    ws.start()
    key = {"env": {"IC_EVIDENCE_KEY": KEY}}
    try:
        incident = ws.declare()
        ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes", **key)
        ws.ok("plan", incident, **key)
        ws.ok("execute", incident, **key)
        ws.ok("validate", incident, "--yes", "--as", "on-call", **key)
    finally:
        ws.stop()
    yield Copy(root, incident)


@pytest.fixture
def copy(finished: Copy, tmp_path: Path) -> Copy:
    root = tmp_path / "ws"
    shutil.copytree(finished.root, root, symlinks=True)
    return Copy(root, finished.incident)


def _rewrite_chain(c: Copy) -> None:
    """What someone who knows the format would do: change a row, then reseal and rehash all."""
    from incident_commander.evidence.chain import GENESIS, event_hash, event_line
    from incident_commander.evidence.digest import content_digests, extend_signals, row_digests
    from incident_commander.evidence.record import load_record
    from incident_commander.store.models import Incident

    c.sql("UPDATE incidents SET severity = 'SEV3' WHERE id = :i", i=c.id)
    commander = Commander(load_settings(c.root / "ic.yaml"))
    try:
        with commander.store.session() as session:
            incident = session.get(Incident, c.id)
            assert incident is not None
            record = load_record(session, incident)
            digests = content_digests(
                record.incident,
                record.suspect_deploy,
                extend_signals(None, record.signals),
                row_digests(record.decisions, record.executions, record.notifications),
            )
            prev = GENESIS
            for ev in record.events:
                if "digests" in ev.data:
                    ev.data = {**ev.data, "digests": digests}
                ev.prev_hash = prev
                ev.hash = event_hash(prev, event_line(ev.seq, ev.at, ev.kind, ev.message), ev.data)
                prev = ev.hash
    finally:
        commander.close()


def _artifact(c: Copy, name: str, change: Callable[[str], str]) -> None:
    import hashlib

    path = c.evidence / name
    data = change(path.read_text()).encode()
    path.write_bytes(data)
    c.sql(
        "UPDATE artifacts SET sha256 = :s, size = :n WHERE incident_id = :i AND path = :p",
        s=hashlib.sha256(data).hexdigest(),
        n=len(data),
        i=c.id,
        p=name,
    )


def _add_file(c: Copy) -> None:
    import hashlib

    data = b"# Approval override\n\nApproved verbally by the director.\n"
    (c.evidence / "approval-override.md").write_bytes(data)
    c.sql(
        "INSERT INTO artifacts (incident_id, path, sha256, size, written_at) "
        "VALUES (:i, 'approval-override.md', :s, :n, '2026-01-01 00:00:00.000000')",
        i=c.id,
        s=hashlib.sha256(data).hexdigest(),
        n=len(data),
    )


def _set_validation(value: dict[str, Any]) -> None:
    for attempt in value["attempts"]:
        attempt["critical_pass_rate"] = 1.0
        attempt["verdict"] = "passed"
    value["attempts"][0]["checks"] = []


Edit = Callable[[Copy], None]

DATABASE_EDITS: dict[str, tuple[Edit, str]] = {
    "approver-policy-to-person": (
        lambda c: c.sql(
            "UPDATE decisions SET approver = 'on-call', approver_type = 'person' "
            "WHERE approver_type = 'policy'"
        ),
        "(mitigation) differs from its digest sealed",
    ),
    "decision-answer": (
        lambda c: c.sql("UPDATE decisions SET answer = 'no' WHERE kind = 'severity'"),
        "(severity) differs from its digest sealed",
    ),
    "execution-release-after": (
        lambda c: c.sql("UPDATE executions SET release_after = 'v9'"),
        "(switch-release) differs from its digest sealed",
    ),
    "execution-status": (
        lambda c: c.sql("UPDATE executions SET status = 'failed'"),
        "(switch-release) differs from its digest sealed",
    ),
    "execution-command-record": (
        lambda c: c.sql(
            "UPDATE executions SET commands = :v",
            v=json.dumps([{"argv": ["true"], "exit_code": 0, "stdout": "", "stderr": ""}]),
        ),
        "(switch-release) differs from its digest sealed",
    ),
    "severity": (
        lambda c: c.sql("UPDATE incidents SET severity = 'SEV3' WHERE id = :i", i=c.id),
        "store: the severity differs from its digest sealed",
    ),
    "assessment": (
        lambda c: c.edit_json("assessment", lambda v: v.update(assessed_by="someone-else")),
        "store: the severity assessment differs",
    ),
    "validation-attempts": (
        lambda c: c.edit_json("validation", _set_validation),
        "store: the recovery validation differs",
    ),
    "notification-deleted": (
        lambda c: c.sql("DELETE FROM notifications WHERE id = (SELECT max(id) FROM notifications)"),
        "was sealed at event",
    ),
    "signal-added": (
        lambda c: c.sql(
            "INSERT INTO signals (incident_id, at, source, detected_by, summary, details) "
            "VALUES (:i, '2026-01-01 00:00:00.000000', 'manual', 'someone', 'forged', '{}')",
            i=c.id,
        ),
        "store: the intake signals differs",
    ),
    "event-data": (
        lambda c: c.sql(
            "UPDATE events SET data = :v WHERE id = "
            "(SELECT min(id) FROM events WHERE kind = 'approval.answered')",
            v=json.dumps({"decision_id": 999}),
        ),
        "(approval.answered) does not match its chain hash",
    ),
    "last-event-deleted": (
        lambda c: c.sql("DELETE FROM events WHERE id = (SELECT max(id) FROM events)"),
        "events were removed",
    ),
    "whole-chain-rewritten": (_rewrite_chain, "the chain was rewritten"),
    "artifact-hash-with-its-file": (
        lambda c: _artifact(
            c,
            "root-cause-inputs/deploy-history.json",
            lambda s: s.replace('"suspect": true', '"suspect": false'),
        ),
        "does not match its sha256 in rca-manifest.json",
    ),
    "file-added": (_add_file, "approval-override.md: recorded, but not a file"),
}


@pytest.mark.parametrize("case", sorted(DATABASE_EDITS))
def test_a_database_edit_then_a_re_render_is_named(copy: Copy, case: str) -> None:
    assert copy.ic("evidence", "verify", copy.id).returncode == 0
    edit, expected = DATABASE_EDITS[case]
    edit(copy)
    copy.rerender()

    broken = copy.ic("evidence", "verify", copy.id, "--json")

    assert broken.returncode == 6, broken.stdout + broken.stderr
    problems = json.loads(broken.stdout)["problems"]
    assert any(expected in problem for problem in problems), problems


def _edit_line(path: Path, pick: Callable[[str], bool], change: Callable[[str], str]) -> None:
    lines = path.read_text().splitlines()
    index = max(i for i, line in enumerate(lines) if pick(line))
    lines[index] = change(lines[index])
    path.write_text("\n".join(lines) + "\n")


def _unwritten_file(c: Copy) -> None:
    (c.evidence / "root-cause-inputs" / "extra-notes.log").write_text("nothing to see\n")


def _forged_head(c: Copy) -> None:
    log = c.evidence.parent / "chain-heads.log"
    _edit_line(log, lambda line: c.id in line, lambda line: line.replace('"seq": ', '"seq": 1'))


FILE_EDITS: dict[str, tuple[Edit, str]] = {
    "rendered-file-edited": (
        lambda c: _edit_line(
            c.evidence / "decision-log.json",
            lambda line: '"approver": "policy:auto"' in line,
            lambda line: line.replace("policy:auto", "on-call"),
        ),
        "decision-log.json: changed since written",
    ),
    "timeline-line-edited": (
        lambda c: _edit_line(
            c.evidence / "incident-timeline.md",
            lambda line: "approval.answered" in line and "policy:auto" in line,
            lambda line: line.replace("policy:auto", "on-call"),
        ),
        "content does not match its chain hash",
    ),
    "chain-file-data-edited": (
        lambda c: _edit_line(
            c.evidence / "incident-chain.jsonl",
            lambda line: '"digests"' in line,
            lambda line: line.replace('"severity": "', '"severity": "0', 1),
        ),
        "incident-chain.jsonl line",
    ),
    "timeline-last-line-removed": (
        lambda c: _edit_line(
            c.evidence / "incident-timeline.md", lambda line: line.startswith("- "), lambda _: ""
        ),
        "line(s) but",
    ),
    "file-deleted": (
        lambda c: (c.evidence / "recovery-validation.json").unlink(),
        "recovery-validation.json: missing",
    ),
    "report-edited": (
        lambda c: _edit_line(
            c.evidence / "INCIDENT-REPORT.md",
            lambda line: "SEV1" in line,
            lambda line: line.replace("SEV1", "SEV4"),
        ),
        "INCIDENT-REPORT.md: changed since written",
    ),
    "file-added-to-folder": (_unwritten_file, "never written by ic"),
    "head-log-line-edited": (_forged_head, "signature does not match"),
}


@pytest.mark.parametrize("case", sorted(FILE_EDITS))
def test_an_edit_to_the_folder_is_named(copy: Copy, case: str) -> None:
    edit, expected = FILE_EDITS[case]
    edit(copy)

    broken = copy.ic("evidence", "verify", copy.id, "--json")

    assert broken.returncode == 6, broken.stdout + broken.stderr
    problems = json.loads(broken.stdout)["problems"]
    assert any(expected in problem for problem in problems), problems


def _rewrite_store_and_log(c: Copy) -> None:
    """Rewrite the chain, drop the incident's lines from the head log, log the new head."""
    from incident_commander.evidence.heads import append_heads

    _rewrite_chain(c)
    c.rerender()
    log = c.evidence.parent / "chain-heads.log"
    kept = [line for line in log.read_text().splitlines() if c.id not in line]
    log.write_text("".join(f"{line}\n" for line in kept))
    seq, head = c.sql("SELECT seq || ' ' || hash FROM events ORDER BY seq DESC LIMIT 1").split()
    append_heads(log.parent, [(c.id, int(seq), head)])


def test_without_the_key_a_rewrite_of_store_and_log_passes_and_verify_says_so(
    copy: Copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IC_EVIDENCE_KEY", raising=False)
    _rewrite_store_and_log(copy)

    passed = copy.ic("evidence", "verify", copy.id, key=None)

    assert passed.returncode == 0, passed.stdout
    assert "OK" in passed.stdout
    assert "IC_EVIDENCE_KEY is not set" in passed.stdout
    assert "rewrite of the store and the head log together would go undetected" in " ".join(
        passed.stdout.split()
    )


def test_with_the_key_a_rewrite_of_store_and_log_is_caught(
    copy: Copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IC_EVIDENCE_KEY", raising=False)  # the one rewriting has no key
    _rewrite_store_and_log(copy)

    broken = copy.ic("evidence", "verify", copy.id, "--json")

    assert broken.returncode == 6, broken.stdout
    problems = json.loads(broken.stdout)["problems"]
    assert any("no signed head for this incident" in p for p in problems), problems
    assert "IC_EVIDENCE_KEY is not set" not in broken.stdout
