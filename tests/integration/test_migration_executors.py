"""Alembic downgrades run for real, on SQLite and on PostgreSQL, driven through `ic`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from incident_commander.executors.backup import BackupCheck, backup_item
from incident_commander.store.models import Execution
from tests.conftest import ic_path
from tests.migration_apps import (
    AppWorkspace,
    age_file,
    alembic_head,
    columns_of,
    downgrade_runs,
    evidence_text,
    readiness_of,
    status_of,
    tables_of,
    to_awaiting,
    write_alembic_app,
)
from tests.waiting import until
from tests.workspace import Workspace, script_option

SECRET = "pw-7f3a9-hunter"  # the database password: it must never reach the evidence
DEADLINE = 60.0


def _with_password(url: str) -> str:
    """PostgreSQL on loopback trusts the user; a password in the URL is still a secret."""
    return url.replace("postgres@", f"postgres:{SECRET}@", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def app_ws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppWorkspace]:
    """An Alembic app at head (0003) on SQLite and on PostgreSQL, with a fresh backup."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ws' / 'shop.db'}"
    else:
        url = _with_password(str(request.getfixturevalue("postgres_url")))
    yield _app_workspace(tmp_path, url)


@pytest.fixture
def sqlite_ws(tmp_path: Path) -> AppWorkspace:
    return _app_workspace(tmp_path, f"sqlite:///{tmp_path / 'ws' / 'shop.db'}")


def _app_workspace(tmp_path: Path, url: str) -> AppWorkspace:
    root = tmp_path / "ws"
    root.mkdir()
    ws = AppWorkspace(root, url)
    write_alembic_app(ws.app, url)
    age_file(root / "backups" / "shop-0412.dump", minutes=3)
    return ws


def alembic_option(name: str = "schema", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "alembic-downgrade",
        "app_dir": "app",
        "revision": "0001",
        "alembic": [sys.executable, "-m", "alembic"],
        "secret_env": {"APP_DATABASE_URL": "${SHOP_DATABASE_URL}"},
        "backup": {"glob": "backups/shop-*.dump", "max_age_minutes": 30},
        "timeout_seconds": 60,
        **extra,
    }


def test_alembic_downgrade_takes_the_schema_back(app_ws: AppWorkspace) -> None:
    ws = app_ws
    ws.configure([alembic_option()])
    incident = to_awaiting(ws)
    ready = readiness_of(ws, incident, "schema")
    assert ready["schema: target revision 0001 exists"]["passed"] is True
    assert ready["schema: current revision readable"]["detail"] == "current revision 0003"
    assert (
        ready["schema: backup newer than 30 min"]["detail"] == "backups/shop-0412.dump, 3 min old"
    )
    assert {"refunds", "orders"} <= tables_of(ws.app_url)

    result = ws.ok("execute", incident)

    assert "schema: succeeded" in result.stdout
    assert "refunds" not in tables_of(ws.app_url)
    assert columns_of(ws.app_url, "orders") == {"id", "total"}
    assert alembic_head(ws.app_url) == ["0001"]
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert (run["status"], run["release_before"], run["release_after"]) == (
        "succeeded",
        "0003",
        "0001",
    )
    current, downgrade, after = run["commands"]
    assert current["argv"][-1] == "current" and current["stdout"].startswith("0003 (head)")
    assert downgrade["argv"][-2:] == ["downgrade", "0001"] and downgrade["exit_code"] == 0
    assert "Running downgrade 0003 -> 0002" in downgrade["stderr"]
    assert downgrade["env"] == {"APP_DATABASE_URL": "[REDACTED]"}
    assert after["stdout"].startswith("0001")
    decisions = ws.read_json(incident, "decision-log.json")
    approved = [d for d in decisions["decisions"] if d["kind"] == "mitigation"]
    assert (
        "Proposed action: take the web database back to revision 0001 via schema "
        "(alembic-downgrade)" in approved[0]["prompt"]
    )
    plan = ws.read(incident, "mitigation-plan.md")
    caveats = plan.split("## Read before approving", 1)[1].split("##", 1)[0]
    assert "- **schema**: Rolling back code does not roll back data." in caveats
    assert "moves the database schema back to revision 0001" in caveats
    assert "restored from the backup (backups/shop-*.dump)" in caveats
    timeline = ws.read(incident, "incident-timeline.md")
    assert "[AUTOMATION] schema executed: succeeded" in timeline
    assert "running schema (alembic-downgrade)" in timeline
    assert status_of(ws, incident) == "validating"
    assert SECRET not in evidence_text(ws, incident)
    assert ws.app_url not in evidence_text(ws, incident)


def test_a_refused_downgrade_falls_through_to_the_next_option(sqlite_ws: AppWorkspace) -> None:
    ws = sqlite_ws
    ws.configure([alembic_option(), script_option("second", "noop.sh")])
    incident = to_awaiting(ws)
    (ws.app / "refuse-downgrade").touch()

    result = ws.ok("execute", incident)

    assert "schema: failed — alembic downgrade 0001 failed (exit code 1): RuntimeError: " in (
        result.stdout
    )
    assert "second: succeeded" in result.stdout and ws.ran("noop")
    assert alembic_head(ws.app_url) == ["0003"]
    assert "refunds" in tables_of(ws.app_url)
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [(r["option"], r["status"]) for r in runs] == [
        ("schema", "failed"),
        ("second", "succeeded"),
    ]
    assert runs[0]["release_after"] == "0003"
    assert "dropping refunds refused: the data is still needed" in runs[0]["error"]
    assert "the data is still needed" in runs[0]["commands"][1]["stderr"]
    timeline = ws.read(incident, "incident-timeline.md")
    assert "[ERROR] Rollback script failed: alembic downgrade 0001 failed (exit code 1)" in timeline
    assert "Trying next: second" in ws.read(incident, "communication-log.md")


def test_a_backup_too_old_halts_the_plan_naming_the_option(sqlite_ws: AppWorkspace) -> None:
    ws = sqlite_ws
    age_file(ws.root / "backups" / "shop-0412.dump", minutes=42.5)
    ws.configure([alembic_option()])
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")

    ws.ic("plan", incident, "--yes", "--as", "on-call")

    item = readiness_of(ws, incident, "schema")["schema: backup newer than 30 min"]
    assert item["passed"] is False
    assert item["detail"] == "backup too old: 42 min, limit 30 (backups/shop-0412.dump)"
    assert status_of(ws, incident) == "halted"
    timeline = ws.read(incident, "incident-timeline.md")
    assert "schema: backup newer than 30 min: backup too old: 42 min, limit 30" in timeline
    assert alembic_head(ws.app_url) == ["0003"] and downgrade_runs(ws.app) == []


def test_a_missing_revision_and_no_backup_halt_with_what_was_found(sqlite_ws: AppWorkspace) -> None:
    ws = sqlite_ws
    ws.configure(
        [alembic_option(revision="0abc", backup={"glob": "dumps/*.sql", "max_age_minutes": 30})]
    )
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")

    ws.ic("plan", incident, "--yes", "--as", "on-call")

    ready = readiness_of(ws, incident, "schema")
    missing = ready["schema: target revision 0abc exists"]
    assert missing["passed"] is False
    assert missing["detail"].startswith("alembic show 0abc failed (exit code ")
    assert missing["detail"].endswith("FAILED: Can't locate revision identified by '0abc'")
    backup = ready["schema: backup newer than 30 min"]
    assert backup["detail"] == "no backup: nothing matches dumps/*.sql"
    assert status_of(ws, incident) == "halted"
    assert "rollback prerequisites unmet — " in ws.read(incident, "incident-timeline.md")


def test_missing_tool_credential_and_database_are_named_atreadiness_of(
    sqlite_ws: AppWorkspace,
) -> None:
    ws = sqlite_ws
    ws.configure(
        [
            alembic_option("no-tool", alembic=["alembic-not-installed"]),
            alembic_option("no-url", secret_env={"APP_DATABASE_URL": "${UNSET_SHOP_URL}"}),
            alembic_option(
                "no-db",
                secret_env={"APP_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/x"},
            ),
        ]
    )
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")

    result = ws.ic("plan", incident, "--yes", "--as", "on-call")

    assert "Traceback" not in result.stdout + result.stderr
    tool = readiness_of(ws, incident, "no-tool")["no-tool: alembic-not-installed on PATH"]
    assert (tool["passed"], tool["detail"]) == (False, "alembic-not-installed not found")
    creds = readiness_of(ws, incident, "no-url")["no-url: credentials present (APP_DATABASE_URL)"]
    assert (creds["passed"], creds["detail"]) == (False, "unset: APP_DATABASE_URL")
    db = readiness_of(ws, incident, "no-db")["no-db: current revision readable"]
    assert db["passed"] is False
    assert db["detail"].startswith("alembic current failed (exit code 1): ")
    assert "OperationalError" in db["detail"] and "127.0.0.1" in db["detail"]
    assert status_of(ws, incident) == "halted"
    assert ws.read_json(incident, "rollback-readiness-checklist.json")["ready_options"] == []


# Interrupted downgrades: `ic execute` killed while Alembic runs -------------------------


def _start_execute(ws: Workspace, incident: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [ic_path(), "execute", incident],
        cwd=ws.root,
        env={**os.environ, **ws.env, "COLUMNS": "200", "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _command_pid(ws: AppWorkspace, incident: str) -> int | None:
    engine = create_engine(ws.database_url)
    try:
        with Session(engine) as session:
            row = session.scalars(
                select(Execution).where(Execution.incident_id == incident)
            ).first()
            return row.command_pid if row is not None else None
    finally:
        engine.dispose()


def _kill_owner_when(ws: AppWorkspace, incident: str, marker: Path) -> None:
    """Run `ic execute`, SIGKILL it once ``marker`` exists, and wait until Alembic died too."""
    owner = _start_execute(ws, incident)
    try:
        until(marker.exists, f"{marker.name} in the app folder")
        until(lambda: _command_pid(ws, incident) is not None, "the command's pid in the store")
        pid = _command_pid(ws, incident)
        assert pid is not None
        owner.send_signal(signal.SIGKILL)
        owner.communicate(timeout=DEADLINE)
        until(lambda: _gone(pid), "alembic to die with its owner")
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.communicate()


@pytest.mark.slow
def test_a_downgrade_killed_before_its_commit_sends_the_incident_back_to_planning(
    postgres_url: str, tmp_path: Path
) -> None:
    ws = _app_workspace(tmp_path, _with_password(postgres_url))
    ws.configure([alembic_option()])
    incident = to_awaiting(ws)
    (ws.app / "hold-in-downgrade").touch()  # 0003's downgrade drops refunds, then waits

    _kill_owner_when(ws, incident, ws.app / "runs.log")
    assert status_of(ws, incident) == "executing"
    # PostgreSQL rolled the unfinished transaction back: refunds is still there.
    assert "refunds" in tables_of(ws.app_url) and alembic_head(ws.app_url) == ["0003"]

    again = ws.ic("execute", incident)

    assert again.returncode == 1, again.stdout + again.stderr
    assert "schema was interrupted" in again.stdout
    assert "current revision 0003, not the target 0001" in again.stdout
    assert "nothing was re-run" in again.stdout
    assert downgrade_runs(ws.app) == ["downgrade 0003"]
    assert status_of(ws, incident) == "planning"
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert (run["status"], run["release_after"]) == ("interrupted", "0003")
    assert ws.ic("evidence", "verify", incident).returncode == 0


@pytest.mark.slow
def test_a_downgrade_killed_after_its_commit_is_settled_as_done(sqlite_ws: AppWorkspace) -> None:
    ws = sqlite_ws
    ws.configure([alembic_option()])
    incident = to_awaiting(ws)
    (ws.app / "hold-after-commit").touch()  # env.py waits once the downgrade is committed

    _kill_owner_when(ws, incident, ws.app / "committed")
    assert status_of(ws, incident) == "executing"
    assert alembic_head(ws.app_url) == ["0001"]

    again = ws.ok("execute", incident)

    assert "the current revision is 0001, the target: the rollback took effect" in again.stdout
    assert downgrade_runs(ws.app) == ["downgrade 0003"]
    assert status_of(ws, incident) == "validating"
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert (run["status"], run["release_after"]) == ("succeeded", "0001")
    assert "schema was interrupted" in ws.read(incident, "incident-timeline.md")


# The backup check by command ------------------------------------------------------------


def _backup_said(tmp_path: Path, printed: str, code: int = 0) -> tuple[bool, str]:
    script = tmp_path / "backup-age"
    script.write_text(f"#!/usr/bin/env bash\nprintf '%s\\n' '{printed}'\nexit {code}\n")
    script.chmod(0o755)
    check = BackupCheck(command=[str(script)], max_age_minutes=30)
    item = backup_item("schema", check, base_dir=tmp_path, env={}, secrets=[])
    assert item.item == "schema: backup newer than 30 min"
    return item.passed, item.detail


def test_a_backup_command_may_print_an_age_or_a_time(tmp_path: Path) -> None:
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    a_minute_ago = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")

    assert _backup_said(tmp_path, "95") == (True, "backup, 95 s old")
    assert _backup_said(tmp_path, "2520") == (False, "backup too old: 42 min, limit 30")
    assert _backup_said(tmp_path, an_hour_ago) == (False, "backup too old: 60 min, limit 30")
    passed, detail = _backup_said(tmp_path, a_minute_ago)  # no zone: read as UTC
    assert passed and detail.startswith("backup, ") and detail.endswith(" s old")
    assert _backup_said(tmp_path, "yesterday") == (
        False,
        "no backup: the backup command printed 'yesterday': neither seconds nor an ISO timestamp",
    )
    assert _backup_said(tmp_path, "no dump found", code=2) == (
        False,
        "no backup: the backup command failed (exit code 2): no dump found",
    )


def test_a_backup_needs_exactly_one_way_to_be_found() -> None:
    with pytest.raises(ValidationError, match="give exactly one of 'glob'"):
        BackupCheck(glob="backups/*.dump", command=["backup-age"], max_age_minutes=30)
    with pytest.raises(ValidationError, match="give exactly one of 'glob'"):
        BackupCheck(max_age_minutes=30)
