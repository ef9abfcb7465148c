"""Shared fixtures: databases (SQLite, and a real PostgreSQL), the `ic` command, workspaces."""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

import click.core
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

if TYPE_CHECKING:
    from tests.workspace import Workspace

PG_ADMIN_URL = os.environ.get(
    "IC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("IC_REQUIRE_POSTGRES") == "1"
BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked slow go first, so parallel workers never wait on one started last."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as exc:
        return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    return None


_PG_PROBLEM = _pg_available()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if _PG_PROBLEM is not None:
        if REQUIRE_PG:
            pytest.fail(f"IC_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: {_PG_PROBLEM}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {_PG_PROBLEM}")
    name = f"ic_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ic.db'}"
    return str(request.getfixturevalue("postgres_url"))


def ic_path() -> str:
    found = BIN / "ic"
    if found.exists():
        return str(found)
    located = shutil.which("ic")
    assert located, "the ic console script is not installed"
    return located


# Variables read once, when the CLI's consoles are made: a call that sets one of them runs
# as a process, so it sees exactly what a user who set it would see.
CONSOLE_ENV = frozenset(
    {
        "COLUMNS",
        "LINES",
        "NO_COLOR",
        "FORCE_COLOR",
        "TERM",
        "COLORTERM",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
    }
)
# Commands that serve until stopped or run a whole scenario with background threads.
PROCESS_COMMANDS = frozenset({"serve", "demo"})


def _ic_env(env: dict[str, str] | None) -> dict[str, str]:
    """The environment `ic` runs with: the test's, fixed width, no colour, no stray IC_CONFIG."""
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    if "IC_CONFIG" not in (env or {}):
        full_env.pop("IC_CONFIG", None)
    return full_env


def _command(args: tuple[str, ...]) -> str | None:
    """The subcommand named in ``args`` (after any --config PATH)."""
    rest = list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option in ("--config", "-c") and rest:
            rest.pop(0)
    return rest[0] if rest else None


@contextmanager
def _isolated(cwd: Path, env: dict[str, str], input: str | None) -> Iterator[tuple[Any, Any]]:
    """What a new process would have: its cwd, environment, argv and its own std streams."""
    saved_cwd = os.getcwd()
    saved_env = dict(os.environ)
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_argv = sys.argv
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(
        io.BytesIO(), encoding="utf-8", errors="backslashreplace", write_through=True
    )
    # Like a pipe with nothing written to it (or with ``input``): never a terminal.
    stdin = io.TextIOWrapper(io.BytesIO((input or "").encode()), encoding="utf-8")
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)  # in place: consoles keep a reference to os.environ
    sys.argv = ["ic"]
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    try:
        yield stdout, stderr
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)


def _text(stream: Any) -> str:
    stream.flush()
    raw: bytes = stream.buffer.getvalue()
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n")


# The CLI's consoles are made at import: make them as a process started by run_ic would.
with _isolated(Path.cwd(), _ic_env(None), None):
    from incident_commander.cli import main as cli_main
    from incident_commander.store.db import Store


@contextmanager
def _closing_stores() -> Iterator[None]:
    """Close every store an invocation opened, as the end of its process would."""
    opened: list[Store] = []
    original = Store.__init__

    def tracked(self: Store, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        opened.append(self)

    Store.__init__ = tracked  # type: ignore[method-assign]
    try:
        yield
    finally:
        Store.__init__ = original  # type: ignore[method-assign]
        for store in opened:
            store.dispose()


def _exit_code(exc: SystemExit, stderr: Any) -> int:
    """The status a process ends with after ``sys.exit(code)``."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code % 256
    stderr.write(f"{exc.code}\n")
    return 1


def run_ic_in_process(
    *args: str, cwd: Path, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``ic`` through its console-script entry point inside this test process."""
    with _isolated(cwd, _ic_env(env), input) as (stdout, stderr), _closing_stores():
        sys.argv = ["ic", *args]
        # Help and usage name the program as a user typed it, however pytest was started.
        with patch.object(click.core, "_detect_program_name", lambda *_, **__: "ic"):
            # run() turns every Exception into exit 70; pytest's own outcomes pass through.
            try:
                cli_main.run()
                code = 0
            except SystemExit as exc:
                code = _exit_code(exc, stderr)
        return subprocess.CompletedProcess(
            [ic_path(), *args], code, stdout=_text(stdout), stderr=_text(stderr)
        )


def run_ic_process(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `ic` console script as a user would, in its own process."""
    return subprocess.run(
        [ic_path(), *args],
        cwd=cwd,
        env=_ic_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        check=False,
    )


def run_ic(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    input: str | None = None,
    process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `ic` as a user would; in this process unless ``process`` (or the call needs one).

    In-process runs go through the same entry point as the console script, with their own
    cwd, environment, stdin, stdout and stderr, so exit codes and output are the same. Calls
    from a thread other than the main one run as processes, so tests may race them.
    ``timeout`` bounds a process; an in-process run is bounded by the test's own timeout.
    """
    needs_process = (
        process
        or _command(args) in PROCESS_COMMANDS
        or bool(CONSOLE_ENV & set(env or {}))
        # cwd, environment and std streams belong to the whole process: one call at a time.
        or threading.current_thread() is not threading.main_thread()
    )
    if needs_process:
        return run_ic_process(*args, cwd=cwd, env=env, timeout=timeout, input=input)
    return run_ic_in_process(*args, cwd=cwd, env=env, input=input)


@contextmanager
def machine_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock shared by every test process on this machine (xdist workers,
    other checkouts): for work that must not run twice at once, like installing packages."""
    path = Path(tempfile.gettempdir()) / f"incident-commander-tests-{name}.lock"
    with path.open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def assert_clean_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    """A user error: the exit code, one clear message, no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output, output
    for needle in needles:
        assert needle in output, output


@pytest.fixture
def workspace(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    """A workspace on SQLite and on PostgreSQL, with the bad release v2 live."""
    from tests.workspace import Workspace

    root = tmp_path / "ws"
    root.mkdir()
    ws = Workspace(root, database_url)
    ws.start()
    try:
        yield ws
    finally:
        ws.stop()
