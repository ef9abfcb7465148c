"""The schema comes from Alembic and matches the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from incident_commander.store.db import HEAD_REVISION, open_store
from incident_commander.store.models import Base


def test_migrations_build_exactly_the_models(database_url: str) -> None:
    store = open_store(database_url)
    try:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert context.get_current_revision() == HEAD_REVISION
            assert compare_metadata(context, Base.metadata) == []
    finally:
        store.dispose()


def test_opening_twice_is_harmless(database_url: str) -> None:
    open_store(database_url).dispose()
    store = open_store(database_url)
    try:
        with store.engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM alembic_version")).scalar()
        assert count == 1
    finally:
        store.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    store = open_store(f"sqlite:///{tmp_path}/ic.db")
    try:
        with store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        store.dispose()
