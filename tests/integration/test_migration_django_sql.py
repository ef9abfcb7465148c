"""Django migrations taken back on SQLite, and down-SQL scripts run by sqlite3 and psql."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_clean_error
from tests.migration_apps import (
    AppWorkspace,
    age_file,
    columns_of,
    create_sql_schema,
    downgrade_runs,
    evidence_text,
    readiness_of,
    status_of,
    tables_of,
    to_awaiting,
    write_django_app,
    write_sql_app,
)
from tests.workspace import script_option

LAST_VERSION = "SELECT max(version) FROM schema_migrations"
FRESH_BACKUP = {"glob": "backups/*.dump", "max_age_minutes": 30}


def _workspace(tmp_path: Path, app_url: str, given_url: str | None = None) -> AppWorkspace:
    root = tmp_path / "ws"
    root.mkdir()
    ws = AppWorkspace(root, app_url, given_url)
    age_file(root / "backups" / "shop.dump", minutes=1)
    return ws


def _assessed(ws: AppWorkspace) -> str:
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    return incident


# Django ----------------------------------------------------------------------------------


@pytest.fixture
def django_ws(tmp_path: Path) -> AppWorkspace:
    """A Django project (app ``shop`` at 0002_order_email) on SQLite, with a fresh backup."""
    ws = _workspace(tmp_path, f"sqlite:///{tmp_path / 'ws' / 'app' / 'app.sqlite3'}")
    write_django_app(ws.app)
    return ws


def django_option(name: str = "shop-schema", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "django-migrate",
        "app_dir": "app",
        "python": sys.executable,
        "app_label": "shop",
        "migration": "0001_initial",
        "backup": FRESH_BACKUP,
        "timeout_seconds": 60,
        **extra,
    }


def test_django_migrate_takes_the_app_back_to_its_first_migration(django_ws: AppWorkspace) -> None:
    ws = django_ws
    ws.configure([django_option()])
    incident = to_awaiting(ws)
    ready = readiness_of(ws, incident, "shop-schema")
    assert ready["shop-schema: current migration readable"]["detail"] == (
        "shop stands at 0002_order_email"
    )
    assert ready["shop-schema: target migration shop 0001_initial exists"]["passed"] is True
    assert "email" in columns_of(ws.app_url, "shop_order")

    result = ws.ok("execute", incident)

    assert "shop-schema: succeeded" in result.stdout
    assert columns_of(ws.app_url, "shop_order") == {"id", "total"}
    assert downgrade_runs(ws.app) == ["downgrade 0002_order_email"]
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert (run["release_before"], run["release_after"]) == ("0002_order_email", "0001_initial")
    before, migrate, after = run["commands"]
    assert "[X] 0002_order_email" in before["stdout"]
    assert migrate["argv"][-5:] == ["manage.py", "migrate", "shop", "0001_initial", "--no-input"]
    assert "Unapplying shop.0002_order_email... OK" in migrate["stdout"]
    assert "[ ] 0002_order_email" in after["stdout"]
    assert "[AUTOMATION] shop-schema executed: succeeded" in ws.read(
        incident, "incident-timeline.md"
    )
    assert status_of(ws, incident) == "validating"


def test_a_failing_django_reversal_falls_through_to_the_next_option(
    django_ws: AppWorkspace,
) -> None:
    ws = django_ws
    ws.configure([django_option(), script_option("second", "noop.sh")])
    incident = to_awaiting(ws)
    (ws.app / "refuse-downgrade").touch()

    result = ws.ok("execute", incident)

    assert "shop-schema: failed — migrate shop 0001_initial failed (exit code 1): " in result.stdout
    assert "RuntimeError: forgetting emails refused: the data is still needed" in result.stdout
    assert "second: succeeded" in result.stdout and ws.ran("noop")
    assert "email" in columns_of(ws.app_url, "shop_order")  # the reversal was rolled back
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [(r["option"], r["status"]) for r in runs] == [
        ("shop-schema", "failed"),
        ("second", "succeeded"),
    ]
    assert runs[0]["release_after"] == "0002_order_email"
    assert "Traceback" in runs[0]["commands"][1]["stderr"]


def test_an_unknown_django_migration_and_no_backup_halt_the_plan(django_ws: AppWorkspace) -> None:
    ws = django_ws
    ws.configure(
        [
            django_option(
                migration="0009_missing", backup={"glob": "dumps/*.sql", "max_age_minutes": 60}
            )
        ]
    )
    incident = _assessed(ws)

    ws.ic("plan", incident, "--yes", "--as", "on-call")

    ready = readiness_of(ws, incident, "shop-schema")
    target = ready["shop-schema: target migration shop 0009_missing exists"]
    assert target["passed"] is False
    assert target["detail"] == (
        "0009_missing is not a migration of shop (listed: 0001_initial, 0002_order_email)"
    )
    backup = ready["shop-schema: backup newer than 60 min"]
    assert backup["detail"] == "no backup: nothing matches dumps/*.sql"
    assert status_of(ws, incident) == "halted"
    assert downgrade_runs(ws.app) == []


def test_a_missing_manage_py_is_named_at_readiness(django_ws: AppWorkspace) -> None:
    ws = django_ws
    ws.configure([django_option(manage="missing_manage.py")])
    incident = _assessed(ws)

    ws.ic("plan", incident, "--yes", "--as", "on-call")

    item = readiness_of(ws, incident, "shop-schema")["shop-schema: Django missing_manage.py exists"]
    assert item["passed"] is False and item["detail"].endswith("app/missing_manage.py not found")
    assert status_of(ws, incident) == "halted"


# Down-SQL scripts --------------------------------------------------------------------------


@pytest.fixture
def sqlite_sql_ws(tmp_path: Path) -> AppWorkspace:
    """Tables ``orders`` and ``refunds`` with ``schema_migrations`` at 0002 in a SQLite file."""
    ws = _workspace(tmp_path, f"sqlite:///{tmp_path / 'ws' / 'app' / 'shop.db'}")
    write_sql_app(ws.app)
    create_sql_schema(ws.app_url)
    return ws


def sqlite_option(name: str = "down-sql", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "sql-down",
        "app_dir": "app",
        "script": "down.sql",
        "run": ["sqlite3", "-bail", "shop.db", ".read {script}"],
        "state": ["sqlite3", "shop.db", LAST_VERSION],
        "migration": "0001",
        "backup": FRESH_BACKUP,
        **extra,
    }


def test_a_down_script_run_by_sqlite3_takes_the_schema_back(sqlite_sql_ws: AppWorkspace) -> None:
    ws = sqlite_sql_ws
    ws.configure([sqlite_option()])
    incident = to_awaiting(ws)
    ready = readiness_of(ws, incident, "down-sql")
    assert ready["down-sql: current migration readable"]["detail"] == "current migration 0002"

    result = ws.ok("execute", incident)

    assert "down-sql: succeeded" in result.stdout
    assert tables_of(ws.app_url) == {"orders", "schema_migrations"}
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert (run["release_before"], run["release_after"]) == ("0002", "0001")
    assert run["commands"][1]["argv"] == [
        "sqlite3",
        "-bail",
        "shop.db",
        f".read {ws.app / 'down.sql'}",
    ]


def test_a_failing_down_script_and_one_that_leaves_the_state_fall_through(
    tmp_path: Path,
) -> None:
    ws = _workspace(tmp_path, f"sqlite:///{tmp_path / 'ws' / 'app' / 'shop.db'}")
    write_sql_app(ws.app, down="DROP TABLE no_such_table;\n")
    (ws.app / "forgetful.sql").write_text("DROP TABLE refunds;\n")  # leaves the version row
    create_sql_schema(ws.app_url)
    ws.configure(
        [
            sqlite_option("broken"),
            sqlite_option("forgetful", script="forgetful.sql"),
            script_option("third", "noop.sh"),
        ]
    )
    incident = to_awaiting(ws)

    result = ws.ok("execute", incident)

    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [(r["option"], r["status"]) for r in runs] == [
        ("broken", "failed"),
        ("forgetful", "failed"),
        ("third", "succeeded"),
    ]
    assert runs[0]["error"].startswith("down script down.sql failed (exit code 1): ")
    assert "no such table: no_such_table" in runs[0]["error"]
    assert runs[1]["error"] == (
        "down script forgetful.sql reported success, but the current migration is 0002 "
        "(current migration 0002), not the target 0001"
    )
    assert "third: succeeded" in result.stdout
    assert "refunds" not in tables_of(ws.app_url)


def test_a_state_check_that_fails_or_a_missing_script_halts(sqlite_sql_ws: AppWorkspace) -> None:
    ws = sqlite_sql_ws
    ws.configure(
        [
            sqlite_option("no-script", script="missing.sql"),
            sqlite_option("bad-state", state=["sqlite3", "shop.db", "SELECT v FROM nowhere"]),
        ]
    )
    incident = _assessed(ws)

    ws.ic("plan", incident, "--yes", "--as", "on-call")

    script = readiness_of(ws, incident, "no-script")["no-script: down script missing.sql exists"]
    assert script["passed"] is False and script["detail"].endswith("app/missing.sql not found")
    state = readiness_of(ws, incident, "bad-state")["bad-state: current migration readable"]
    assert state["passed"] is False
    assert state["detail"].startswith("state check failed (exit code 1): ")
    assert "no such table: nowhere" in state["detail"]
    assert status_of(ws, incident) == "halted"


def test_a_placeholder_other_than_script_is_refused_at_config_load(
    sqlite_sql_ws: AppWorkspace,
) -> None:
    ws = sqlite_sql_ws
    ws.configure([sqlite_option(run=["sqlite3", "shop.db", ".read {release}.sql"])])

    result = ws.ic("list")

    assert_clean_error(result, 2, "placeholder {release}", "is not allowed", "ic.yaml")


def test_psql_runs_a_down_script_with_the_url_kept_secret(
    postgres_url: str, tmp_path: Path
) -> None:
    secret = "pg-pass-61c0e"
    url = postgres_url.replace("postgres@", f"postgres:{secret}@", 1)
    ws = _workspace(tmp_path, url, url.replace("postgresql+psycopg://", "postgresql://", 1))
    write_sql_app(ws.app)
    create_sql_schema(url)
    ws.configure(
        [
            sqlite_option(
                secret_env={"DATABASE_URL": "${SHOP_DATABASE_URL}"},
                run=["psql", "$DATABASE_URL", "-v", "ON_ERROR_STOP=1", "-f", "{script}"],
                state=["psql", "${DATABASE_URL}", "-tAc", LAST_VERSION],
            )
        ]
    )
    incident = to_awaiting(ws)

    result = ws.ok("execute", incident)

    assert "down-sql: succeeded" in result.stdout
    assert tables_of(url) == {"orders", "schema_migrations"}
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert run["commands"][1]["argv"][:2] == ["psql", "[REDACTED]"]
    assert run["commands"][1]["env"] == {"DATABASE_URL": "[REDACTED]"}
    assert "DROP TABLE" in run["commands"][1]["stdout"]
    assert (run["release_before"], run["release_after"]) == ("0002", "0001")
    assert secret not in evidence_text(ws, incident)
