"""Opening the database: SQLite in WAL mode by default, PostgreSQL by URL; migrate on open."""

from __future__ import annotations

import fcntl
import json
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from incident_commander.errors import StoreError

__all__ = ["HEAD_REVISION", "Store", "open_store"]

HEAD_REVISION = "0010"
MIGRATIONS = Path(__file__).parent / "migrations"
IDLE_PING_SECONDS = 1.0
"""A pooled server connection idle for longer than this is pinged before it is used again."""


def _normalise(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _to_json(value: Any) -> str:
    """JSON for the store's JSON columns: orjson, or the standard library for what it refuses."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: integers beyond 64 bits, unusual types
        return json.dumps(value)


def _lock_key(name: str) -> int:
    """The PostgreSQL advisory lock key of a lock name."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun by _sqlite_begin, not by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """Take SQLite's write lock when a transaction starts, so steps never interleave.

    SQLite has one writer; a transaction that read first and wrote later would fail (or
    compute a stale sequence number) when another committed in between. Beginning
    IMMEDIATE serialises them the way PostgreSQL's row locks do.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle for a while.

    A connection given back a moment ago is alive; pinging it on every checkout would cost
    every transaction a round trip. One that sat idle may have been dropped (a server restart,
    an idle timeout): it is pinged, and a dead one is replaced before anyone uses it.
    """

    def idle_from_now(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc

    event.listen(engine, "connect", idle_from_now)
    event.listen(engine, "checkin", idle_from_now)
    event.listen(engine, "checkout", ping_if_idle)


def _migrate(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
        return str(row[0]) if row else None


class Store:
    """A database connection pool and a session factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer and every transaction begins IMMEDIATE. Threads of this
        # process take turns on this lock instead of in SQLite's busy handler, which sleeps
        # between tries; other processes still wait there.
        self._turn = threading.RLock() if self.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._turn or nullcontext(), self._sessions() as session, session.begin():
            yield session

    def lock_transaction(self, session: Session, name: str) -> None:
        """Hold the lock named ``name`` until ``session``'s transaction ends (PostgreSQL).

        A transaction-level advisory lock: replicas of ``ic serve`` take turns, and the lock
        costs one round trip, released by the commit itself. On SQLite the writer lock of the
        transaction (``BEGIN IMMEDIATE``) already serialises writers, and ``exclusive`` spans
        several transactions.
        """
        if self.dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(name)})

    def lock_and_read(
        self, session: Session, name: str, reads: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[tuple[Any, ...]]] | None:
        """PostgreSQL: take the lock ``name`` for the transaction, then run ``reads`` (SQL with
        ``%s`` placeholders, and their values), all in one round trip; return each one's rows.

        The statements go to the server together (a pipeline) but run one after the other, so
        each read sees everything committed before the lock was granted. Elsewhere returns
        ``None``: the caller takes the lock (``lock_transaction``) and reads its own way.
        """
        if self.dialect != "postgresql":
            return None
        driver = session.connection().connection.driver_connection
        assert driver is not None
        with driver.pipeline():
            driver.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(name)])
            cursors = [driver.execute(sql, values) for sql, values in reads]
        return [cursor.fetchall() for cursor in cursors]

    @contextmanager
    def writes_together(self, session: Session) -> Iterator[None]:
        """Send the statements written inside this block together (PostgreSQL: a pipeline).

        Only statements whose results nobody reads may run here; a failure among them is raised
        when the block ends.
        """
        if self.dialect != "postgresql":
            yield
            return
        driver = session.connection().connection.driver_connection
        assert driver is not None
        with driver.pipeline():
            yield

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """On SQLite, hold a lock named ``name`` across processes sharing the database file (an
        exclusive ``flock`` beside it), across several transactions. On PostgreSQL each of those
        transactions takes ``lock_transaction`` instead, and this holds nothing.
        """
        database = self.engine.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            yield
            return
        with open(f"{database}.{name}.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str) -> Store:
    """Connect, bring the schema to the current revision, and return the store."""
    url = _normalise(url)
    kwargs: dict[str, Any] = {"json_serializer": _to_json, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 10, "check_same_thread": False}
    else:
        kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = create_engine(url, **kwargs)
    except (SQLAlchemyError, ValueError) as exc:
        raise StoreError(f"invalid database URL {url!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        _ping_when_idle(engine)
    try:
        if _current_revision(engine) != HEAD_REVISION:
            _migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreError(f"cannot open the database at {engine.url!r}: {reason}") from None
    return Store(engine)
