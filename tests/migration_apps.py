"""Small real applications whose schemas the migration rollback tests take back.

- an Alembic project (``alembic.ini``, ``migrations/env.py``, three revisions: 0001 creates
  ``orders``, 0002 adds ``orders.email``, 0003 creates ``refunds``), its URL read from
  ``APP_DATABASE_URL``;
- a Django project with one app, ``shop``, and two migrations (0001 creates ``Order``, 0002
  adds ``Order.email`` and fills it), on SQLite;
- a plain SQL schema with a ``schema_migrations`` table and a down script, as dbmate or
  golang-migrate keep them.

Files in the app's folder steer what the migrations do, so a test can hold or break one:
``refuse-downgrade`` makes the downgrade of the newest migration fail; ``hold-in-downgrade``
makes it wait (after its first change) until ``go`` exists; ``hold-after-commit`` makes
Alembic's env.py wait, once the downgrade is committed, until ``go`` exists (it writes
``committed`` first). Every downgrade of the newest migration appends a line to ``runs.log``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect

from tests.workspace import Workspace

__all__ = [
    "AppWorkspace",
    "age_file",
    "alembic_head",
    "columns_of",
    "create_sql_schema",
    "downgrade_runs",
    "evidence_text",
    "readiness_of",
    "status_of",
    "tables_of",
    "to_awaiting",
    "write_alembic_app",
    "write_django_app",
    "write_sql_app",
]

ALEMBIC_INI = """[alembic]
script_location = migrations

[loggers]
keys = root,alembic

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

# Steering by files in the app's folder (see the module docstring); waiting is the app's own.
GATES = """
import threading
from pathlib import Path

APP = Path(__file__).resolve().parents[{depth}]


def note_run(what):
    with (APP / "runs.log").open("a") as log:
        log.write(what + "\\n")


def refuse_if_asked(what):
    if (APP / "refuse-downgrade").exists():
        raise RuntimeError(f"{{what}} refused: the data is still needed")


def hold_if_asked(name):
    if (APP / name).exists():
        pause = threading.Event()
        while not (APP / "go").exists():
            pause.wait(0.05)
"""

ENV_PY = """
import os
import sys
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gates import APP, hold_if_asked

fileConfig(context.config.config_file_name)
applied = []
engine = create_engine(os.environ["APP_DATABASE_URL"])
with engine.connect() as connection:
    context.configure(
        connection=connection,
        on_version_apply=lambda **kw: applied.append(kw["step"]),
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
engine.dispose()
if applied and (APP / "hold-after-commit").exists():
    (APP / "committed").touch()
    hold_if_asked("hold-after-commit")
"""

REVISIONS = {
    "0001_orders.py": """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("total", sa.Integer))


def downgrade():
    op.drop_table("orders")
""",
    "0002_email.py": """
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade():
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("email", sa.String(200)))


def downgrade():
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("email")
""",
    "0003_refunds.py": """
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import op

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gates import hold_if_asked, note_run, refuse_if_asked

revision = "0003"
down_revision = "0002"


def upgrade():
    op.create_table("refunds", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("order_id", sa.Integer))


def downgrade():
    note_run("downgrade 0003")
    refuse_if_asked("dropping refunds")
    op.drop_table("refunds")
    hold_if_asked("hold-in-downgrade")
""",
}


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{argv}: {result.stdout}\n{result.stderr}"


def write_alembic_app(app: Path, url: str) -> Path:
    """An Alembic project in ``app``, upgraded to its head (0003) on the database at ``url``."""
    versions = app / "migrations" / "versions"
    versions.mkdir(parents=True)
    (app / "alembic.ini").write_text(ALEMBIC_INI)
    (app / "migrations" / "env.py").write_text(ENV_PY)
    (app / "migrations" / "gates.py").write_text(GATES.format(depth=1))
    for name, body in REVISIONS.items():
        (versions / name).write_text(body)
    _run([sys.executable, "-m", "alembic", "upgrade", "head"], app, {"APP_DATABASE_URL": url})
    return app


DJANGO_MANAGE = """import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""

DJANGO_SETTINGS = """from pathlib import Path

SECRET_KEY = "only-for-tests"
INSTALLED_APPS = ["shop"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(__file__).resolve().parent / "app.sqlite3",
    }
}
USE_TZ = True
"""

DJANGO_MIGRATIONS = {
    "0001_initial.py": """from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Order",
            fields=[
                ("id", models.AutoField(primary_key=True)),
                ("total", models.IntegerField(default=0)),
            ],
        ),
    ]
""",
    "0002_order_email.py": """import sys
from pathlib import Path

from django.db import migrations, models

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gates import note_run, refuse_if_asked


def fill_emails(apps, schema_editor):
    apps.get_model("shop", "Order").objects.update(email="unknown@example.com")


def forget_emails(apps, schema_editor):
    note_run("downgrade 0002_order_email")
    refuse_if_asked("forgetting emails")


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.AddField("order", "email", models.CharField(max_length=200, default="")),
        migrations.RunPython(fill_emails, forget_emails),
    ]
""",
}


def write_django_app(app: Path) -> Path:
    """A Django project in ``app`` with the app ``shop``, migrated to 0002 on SQLite."""
    shop = app / "shop"
    (shop / "migrations").mkdir(parents=True)
    (app / "manage.py").write_text(DJANGO_MANAGE)
    (app / "site_settings.py").write_text(DJANGO_SETTINGS)
    (app / "shop" / "gates.py").write_text(GATES.format(depth=1))
    (shop / "__init__.py").write_text("")
    (shop / "models.py").write_text("")
    (shop / "migrations" / "__init__.py").write_text("")
    for name, body in DJANGO_MIGRATIONS.items():
        (shop / "migrations" / name).write_text(body)
    _run([sys.executable, "manage.py", "migrate", "--no-input"], app)
    return app


SQL_UP = """
CREATE TABLE schema_migrations (version TEXT PRIMARY KEY);
CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER);
INSERT INTO schema_migrations VALUES ('0001');
CREATE TABLE refunds (id INTEGER PRIMARY KEY, order_id INTEGER);
INSERT INTO schema_migrations VALUES ('0002');
"""

SQL_DOWN = """DROP TABLE refunds;
DELETE FROM schema_migrations WHERE version = '0002';
"""


def write_sql_app(app: Path, *, down: str = SQL_DOWN) -> Path:
    """A folder with ``down.sql`` (0002 → 0001) and the SQL of the schema it takes back."""
    app.mkdir(parents=True, exist_ok=True)
    (app / "up.sql").write_text(SQL_UP)
    (app / "down.sql").write_text(down)
    return app


def create_sql_schema(url: str) -> None:
    """Create the plain SQL schema (at 0002) in the database at ``url`` (SQLite or PostgreSQL)."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in filter(None, (s.strip() for s in SQL_UP.split(";"))):
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def tables_of(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def columns_of(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def alembic_head(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def downgrade_runs(app: Path) -> list[str]:
    path = app / "runs.log"
    return path.read_text().splitlines() if path.exists() else []


def age_file(path: Path, minutes: float) -> None:
    """Give ``path`` a modification time ``minutes`` ago (a backup taken then)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    when = time.time() - minutes * 60
    os.utime(path, (when, when))


# Driving an incident to its rollback ----------------------------------------------------


class AppWorkspace(Workspace):
    """A workspace (store on SQLite, service not started) beside an application's database."""

    def __init__(self, root: Path, app_url: str, given_url: str | None = None) -> None:
        super().__init__(root, f"sqlite:///{root / 'ic.db'}")
        self.app_url = app_url  # as SQLAlchemy takes it, for the tests' own looks
        self.given_url = given_url or app_url  # as the option's tool takes it
        self.app = root / "app"

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "SHOP_DATABASE_URL": self.given_url}


def to_awaiting(ws: Workspace) -> str:
    """Declare, assess (confirmed) and plan (approved on the spot): ready to execute."""
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    return incident


def status_of(ws: Workspace, incident: str) -> str:
    return str(json.loads(ws.ok("show", incident, "--json").stdout)["status"])


def readiness_of(ws: Workspace, incident: str, option: str) -> dict[str, dict[str, Any]]:
    checklist = ws.read_json(incident, "rollback-readiness-checklist.json")
    return {i["item"]: i for i in checklist["items"] if i.get("option") == option}


def evidence_text(ws: Workspace, incident: str) -> str:
    return "".join(p.read_text() for p in ws.evidence(incident).rglob("*") if p.is_file())
