"""What goes wrong in each demo, and how the demo's ic.yaml lets the engine fix it.

- ``bad-deploy``: release v2 answers 500; the fix is switching back to v1 (symlink, or script).
- ``bad-flag``: the flag ``new-checkout`` is turned on in a flagd file and breaks checkout; the
  fix is turning it off (``flag-file``).
- ``bad-migration``: Alembic migration 0002 renames a column checkout reads; the fix is an
  Alembic downgrade to 0001, once a fresh backup is found (``alembic-downgrade``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from incident_commander.demo.service import BROKEN_BY_FLAG, DATABASE, FLAGS

__all__ = ["SCENARIOS", "Scenario", "demo_diagnostics", "scenario_named"]

SERVICE = "demo-web"

_ALEMBIC_INI = """[alembic]
script_location = migrations
sqlalchemy.url = sqlite:///app.db
"""
_ENV = '''"""Runs the demo's migrations against the database named in alembic.ini."""
from alembic import context
from sqlalchemy import create_engine

engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
'''
_ORDERS = '''"""Orders, with the total checkout reads."""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("total", sa.Integer))


def downgrade():
    op.drop_table("orders")
'''
_RENAME = '''"""Renames orders.total to amount: the code still reads total, so checkout breaks."""
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade():
    with op.batch_alter_table("orders") as table:
        table.alter_column("total", new_column_name="amount")


def downgrade():
    with op.batch_alter_table("orders") as table:
        table.alter_column("amount", new_column_name="total")
'''


def _flags(on: bool) -> str:
    flag = {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "on" if on else "off",
    }
    return json.dumps({"flags": {BROKEN_BY_FLAG: flag}}, indent=2) + "\n"


def _alembic(workdir: Path, revision: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", revision],
        cwd=workdir,
        check=True,
        capture_output=True,
        timeout=120,
    )


def _no_setup(workdir: Path) -> None:
    return None


def _flag_setup(workdir: Path) -> None:
    (workdir / FLAGS).write_text(_flags(on=False))


def _flag_break(workdir: Path) -> str:
    (workdir / FLAGS).write_text(_flags(on=True))
    return f"turning the flag {BROKEN_BY_FLAG} on (it breaks checkout)"


def _migration_setup(workdir: Path) -> None:
    (workdir / "alembic.ini").write_text(_ALEMBIC_INI)
    versions = workdir / "migrations" / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (workdir / "migrations" / "env.py").write_text(_ENV)
    (versions / "0001_orders.py").write_text(_ORDERS)
    (versions / "0002_rename_total.py").write_text(_RENAME)
    _alembic(workdir, "0001")
    backups = workdir / "backups"
    backups.mkdir(exist_ok=True)
    shutil.copy2(workdir / DATABASE, backups / "app-before-0002.db")


def _migration_break(workdir: Path) -> str:
    _alembic(workdir, "0002")
    return "migrating the database to 0002 (renames orders.total, which checkout reads)"


def _deploy_options(workdir: Path, port: int, restart: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": "switch-release",
            "kind": "release-symlink",
            "releases_dir": "releases",
            "current_link": "current",
            "restart": restart,
            "restart_timeout_seconds": 20,
        },
        {
            "name": "rollback-backend-script",
            "kind": "script",
            "argv": [
                *("scripts/rollback_backend.sh", "--env", "production"),
                *("--release", "{release}"),
            ],
            "timeout_seconds": 30,
            "env": {"IC_DEMO_PYTHON": sys.executable, "IC_DEMO_PORT": str(port)},
        },
    ]


def _flag_options(workdir: Path, port: int, restart: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": "new-checkout-off",
            "kind": "flag-file",
            "path": FLAGS,
            "flag": BROKEN_BY_FLAG,
            "format": "flagd",
        }
    ]


def _migration_options(workdir: Path, port: int, restart: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": "schema-back-to-0001",
            "kind": "alembic-downgrade",
            "revision": "0001",
            "alembic": [sys.executable, "-m", "alembic"],
            "config": "alembic.ini",
            "backup": {"glob": "backups/*.db", "max_age_minutes": 60},
            "timeout_seconds": 60,
        }
    ]


def demo_diagnostics(port: int) -> list[dict[str, Any]]:
    """What the demo gathers when its incident opens: disk space and the health page."""
    return [
        {"name": "disk", "argv": ["df", "-h", "."], "timeout_seconds": 5},
        {"name": "health", "url": f"http://127.0.0.1:{port}/health", "timeout_seconds": 2},
    ]


def _policy(actions: list[str], *, suspect: bool) -> list[dict[str, Any]]:
    rollback: dict[str, Any] = {
        "name": "demo-auto-rollback",
        "approves": ["severity", "mitigation"],
        "severities": ["SEV1"],
        "services": [SERVICE],
        "actions": actions,
    }
    if suspect:
        rollback["suspect_deploy_within_minutes"] = 30
    resolve = {"name": "demo-auto-resolve", "approves": ["resolution"], "services": [SERVICE]}
    return [rollback, resolve]


@dataclass(frozen=True)
class Scenario:
    """One way the demo service breaks, and the options that fix it."""

    name: str
    options: Callable[[Path, int, list[str]], list[dict[str, Any]]]
    policies: list[dict[str, Any]]
    setup: Callable[[Path], None] = _no_setup
    # Breaks the running v1; ``None``: the break is deploying the bad release v2.
    breaks: Callable[[Path], str] | None = None


SCENARIOS: dict[str, Scenario] = {
    "bad-deploy": Scenario(
        "bad-deploy",
        _deploy_options,
        _policy(["release-symlink", "script"], suspect=True),
    ),
    "bad-flag": Scenario(
        "bad-flag",
        _flag_options,
        _policy(["flag-file"], suspect=False),
        setup=_flag_setup,
        breaks=_flag_break,
    ),
    "bad-migration": Scenario(
        "bad-migration",
        _migration_options,
        _policy(["alembic-downgrade"], suspect=False),
        setup=_migration_setup,
        breaks=_migration_break,
    ),
}


def scenario_named(name: str) -> Scenario:
    """The scenario called ``name``; ``KeyError`` naming the choices otherwise."""
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r} (one of: {', '.join(SCENARIOS)})")
    return SCENARIOS[name]
