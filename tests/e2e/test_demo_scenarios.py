"""`ic demo --scenario`: a bad flag and a bad migration, each mitigated by its own executor,
each ending with verified recovery and every gate passing."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from tests.conftest import assert_clean_error, run_ic

ALL_GATES = {"prerequisites": True, "1": True, "2": True, "3": True, "4": True}


def _demo(tmp_path: Path, scenario: str) -> tuple[dict[str, object], Path]:
    workdir = tmp_path / scenario
    result = run_ic(
        "demo", "--workdir", str(workdir), "--scenario", scenario, "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout), workdir


def test_a_bad_flag_is_turned_off_and_the_service_recovers(tmp_path: Path) -> None:
    summary, workdir = _demo(tmp_path, "bad-flag")

    assert summary["scenario"] == "bad-flag"
    assert summary["action"] == "new-checkout-off"
    assert (summary["release_before"], summary["release_after"]) == (
        "flag new-checkout on",
        "flag new-checkout off",
    )
    assert summary["recovered"] is True and summary["gates"] == ALL_GATES
    flags = json.loads((workdir / "flags.json").read_text())
    assert flags["flags"]["new-checkout"]["defaultVariant"] == "off"
    evidence = Path(str(summary["evidence_dir"]))
    timeline = (evidence / "incident-timeline.md").read_text()
    assert "[AUTOMATION] new-checkout-off executed: succeeded" in timeline


def test_a_bad_migration_is_downgraded_after_the_backup_check(tmp_path: Path) -> None:
    summary, workdir = _demo(tmp_path, "bad-migration")

    assert summary["action"] == "schema-back-to-0001"
    assert (summary["release_before"], summary["release_after"]) == ("0002", "0001")
    assert summary["recovered"] is True and summary["gates"] == ALL_GATES
    with closing(sqlite3.connect(workdir / "app.db")) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(orders)")]
    assert columns == ["id", "total"]
    evidence = Path(str(summary["evidence_dir"]))
    checklist = json.loads((evidence / "rollback-readiness-checklist.json").read_text())
    backup = next(i for i in checklist["items"] if "backup" in i["item"])
    assert backup["passed"] is True and "app-before-0002.db" in backup["detail"]
    plan = (evidence / "mitigation-plan.md").read_text()
    assert "Rolling back code does not roll back data" in plan


def test_an_unknown_scenario_is_refused(tmp_path: Path) -> None:
    result = run_ic("demo", "--workdir", str(tmp_path / "x"), "--scenario", "bad-dns", cwd=tmp_path)

    assert_clean_error(result, 2, "unknown scenario 'bad-dns'", "bad-flag", "bad-migration")
