"""Decision memos: `ic memo export`, `ic artifact validate`, `ic memo promote` behind gate 4."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import yaml

from tests.conftest import assert_clean_error, run_ic
from tests.workspace import Workspace

SECTIONS = (
    "Context",
    "Decision",
    "Options considered",
    "Consequences",
    "Timeline",
    "Root cause",
    "Action items",
    "Evidence",
)


def _front(path: Path) -> dict[str, object]:
    text = path.read_text()
    assert text.startswith("---\n"), text[:200]
    front = yaml.safe_load(text.split("---\n")[1])
    assert isinstance(front, dict)
    return front


def _memo(incident: str = "INC-20260101-0001", **changes: object) -> str:
    """A valid memo, with front matter keys changed (``None`` removes a key)."""
    front: dict[str, object] = {
        "id": incident,
        "type": "decision-memo",
        "status": "draft",
        "depends_on": ["RFC-007"],
        "created": date(2026, 1, 1),
        "updated": date(2026, 1, 2),
        "severity": "SEV1",
    }
    for key, value in changes.items():
        if value is None:
            front.pop(key, None)
        else:
            front[key] = value
    body = "\n".join(f"## {name}\n\nWritten.\n" for name in SECTIONS)
    return f"---\n{yaml.safe_dump(front, sort_keys=False)}---\n\n# Memo\n\n{body}"


def test_memo_is_exported_validated_and_promoted_only_after_gate_four(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    memo = ws.root / "artifacts" / "decision-memos" / f"{incident}.md"

    early = ws.ic("memo", "export", incident, "--depends-on", "RFC-007", "--json")

    assert early.returncode == 0, early.stdout + early.stderr
    assert json.loads(early.stdout)["path"] == f"artifacts/decision-memos/{incident}.md"
    front = _front(memo)
    assert front["id"] == incident and front["type"] == "decision-memo"
    assert front["status"] == "draft" and front["depends_on"] == ["RFC-007"]
    assert front["severity"] == "unassessed" and front["service"] == "web"
    assert isinstance(front["created"], date) and front["updated"] == front["created"]
    assert f"\nupdated: {front['created']}\n" in memo.read_text()  # written out, no YAML alias
    assert ws.ok("artifact", "validate", str(memo)).stdout.startswith("OK ")
    refused = ws.ic("memo", "promote", incident)
    assert_clean_error(
        refused,
        4,
        f"{incident}: the memo stays draft: Gate 4: Resolution & documentation fails",
        "resolution summary recorded",
        "Hint: complete the missing documentation",
    )
    assert _front(memo)["status"] == "draft"

    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)
    ws.ok("validate", incident, "--yes", "--as", "on-call")
    ws.ok(
        "postmortem",
        incident,
        "--as",
        "on-call",
        "--why",
        "checkout failed because /health returned 500",
        "--root-cause",
        "releases are not checked against production config before deploy",
        "--action",
        "validate config keys in CI;platform;2026-12-15",
    )
    ws.ok("memo", "export", incident)

    text = memo.read_text()
    front = _front(memo)
    assert front["severity"] == "SEV1" and front["depends_on"] == ["RFC-007"]
    assert "The rollback-or-fix tree recommended **rollback**" in text
    assert "| switch-release | release-symlink | rollback |" in text
    assert "- **switch-release** (release-symlink): succeeded, release v2 → v1" in text
    assert "1. Why? checkout failed because /health returned 500" in text
    assert "| validate config keys in CI | platform | 2026-12-15 |" in text
    assert f"`.artifacts/incidents/{incident}/incident-timeline.md`" in text
    assert "- `INCIDENT-REPORT.md` `" in text
    assert ws.ok("artifact", "validate", str(memo)).returncode == 0

    assert ws.ok("memo", "promote", incident).stdout.strip() == (
        f"artifacts/decision-memos/{incident}.md: draft → review"
    )
    promoted = ws.ok("memo", "promote", incident, "--json")
    assert json.loads(promoted.stdout) == {
        "path": f"artifacts/decision-memos/{incident}.md",
        "before": "review",
        "after": "final",
    }
    assert _front(memo)["status"] == "final"
    assert "1. Why? checkout failed because /health returned 500" in memo.read_text()
    assert_clean_error(ws.ic("memo", "promote", incident), 2, "is already final")
    kept = ws.ic("memo", "export", incident)
    assert_clean_error(kept, 2, "is final, not a draft", "pass --force")
    assert _front(memo)["status"] == "final"
    ws.ok("memo", "export", incident, "--force")
    assert _front(memo)["status"] == "draft"


def test_promote_needs_an_exported_and_valid_memo(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()

    missing = ws.ic("memo", "promote", incident)

    assert_clean_error(missing, 2, f"no decision memo for {incident}", "ic memo export")
    memo = ws.root / "artifacts" / "decision-memos" / f"{incident}.md"
    memo.parent.mkdir(parents=True)
    memo.write_text(_memo(incident, status="approved"))
    broken = ws.ic("memo", "promote", incident)
    assert_clean_error(
        broken, 2, "does not validate: front matter: status: expected one of draft, review, final"
    )
    assert_clean_error(ws.ic("memo", "export", "INC-19990101-0001"), 3, "no incident with id")


def test_artifact_validate_names_every_problem(tmp_path: Path) -> None:
    folder = tmp_path / "artifacts" / "decision-memos"
    folder.mkdir(parents=True)
    (folder / "INC-20260101-0001.md").write_text(_memo())
    (folder / "INC-20260101-0002.md").write_text(
        _memo(
            "INC-20260101-0003",
            type="rfc",
            status="done",
            depends_on="RFC-007",
            updated=date(2025, 12, 31),
            severity=None,
        ).replace("## Decision\n", "## Choice\n")
    )
    (tmp_path / "INC-20260101-0004.md").write_text(
        _memo("INC-20260101-0004", created="yesterday").replace(
            "## Evidence\n\nWritten.\n", "## Evidence\n\n"
        )
    )
    (tmp_path / "plain.md").write_text("# Notes\n\nNo front matter here.\n")
    (tmp_path / "open.md").write_text("---\nid: INC-1\n")
    (tmp_path / "yaml.md").write_text("---\nid: [INC-1\n---\n")

    result = run_ic(
        "artifact",
        "validate",
        "artifacts/decision-memos",
        "INC-20260101-0004.md",
        "plain.md",
        "open.md",
        "yaml.md",
        "missing.md",
        cwd=tmp_path,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "OK artifacts/decision-memos/INC-20260101-0001.md" in out
    bad = "artifacts/decision-memos/INC-20260101-0002.md"
    assert f"INVALID (7) {bad}" in out
    for problem in (
        "front matter: severity: missing",
        "front matter: id: expected 'INC-20260101-0002', the file's name (got 'INC-20260101-0003')",
        "front matter: type: expected 'decision-memo' (got 'rfc')",
        "front matter: status: expected one of draft, review, final (got 'done')",
        "front matter: depends_on: expected a list of artifact ids or paths (got 'RFC-007')",
        "front matter: updated: expected on or after created (2026-01-01)",
        "section '## Decision': missing",
    ):
        assert f"  {bad}: {problem}" in out, problem
    assert (
        "INC-20260101-0004.md: front matter: created: expected a date YYYY-MM-DD "
        "(got 'yesterday')" in out
    )
    assert "INC-20260101-0004.md: section '## Evidence': empty: expected its content" in out
    assert "plain.md: front matter: missing: the file must open with a '---' line" in out
    assert "open.md: front matter: not closed: expected a second '---' line" in out
    assert "yaml.md: front matter: not valid YAML at line 2" in out
    assert "missing.md: file: cannot be read: No such file or directory" in out
    assert "Traceback" not in out + result.stderr

    as_json = run_ic("artifact", "validate", "artifacts/decision-memos", "--json", cwd=tmp_path)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert [f["ok"] for f in report["files"]] == [True, False]
    assert {"where": "section '## Decision'", "expected": "missing"} in report["files"][1][
        "problems"
    ]
    good = run_ic(
        "artifact", "validate", "artifacts/decision-memos/INC-20260101-0001.md", cwd=tmp_path
    )
    assert good.returncode == 0 and "INVALID" not in good.stdout
