"""The schema comes from Alembic and matches the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from incident_commander.store import db
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


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(postgres_url)
    try:
        with store.session() as session:
            dropped = session.execute(text("SELECT pg_backend_pid()")).scalar()
        with store.session() as session:  # a connection given back a moment ago is not pinged
            assert session.execute(text("SELECT pg_backend_pid()")).scalar() == dropped
        admin = open_store(postgres_url)
        try:  # the server ends the pooled connection, as a restart or an idle timeout would
            with admin.session() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
        finally:
            admin.dispose()
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # it has sat idle long enough
        with store.session() as session:
            serving = session.execute(text("SELECT pg_backend_pid()")).scalar()
        assert serving != dropped
    finally:
        store.dispose()
