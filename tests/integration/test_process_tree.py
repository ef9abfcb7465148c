"""A command's deadline holds for everything it starts; its output never leaks a secret."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from incident_commander.process import OUTPUT_LIMIT, run_argv
from incident_commander.redact import MASK
from tests.waiting import until

# Each script writes the pid of the process meant to outlive it to the file named by $1.
ESCAPES = {
    "new session": """
        echo started
        setsid sh -c 'echo $$ > "$1"; exec sleep 25' sh "$1" &
        sleep 25
    """,
    "double fork, new session, empty environment": """
        echo started
        ( env -i setsid sh -c 'echo $$ > "$1"; exec sleep 25' sh "$1" & )
        sleep 25
    """,
    "new session, output closed": """
        echo started
        ( setsid sh -c 'echo $$ > "$1"; exec sleep 25' sh "$1" >/dev/null 2>&1 & )
        sleep 25
    """,
}

DAEMON = """
    echo main done
    setsid sh -c 'echo $$ > "$1"; echo daemon started; exec sleep 25' sh "$1" &
    while [ ! -s "$1" ]; do sleep 0.01; done
    exit 0
"""


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "command.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _pid_in(path: Path) -> int:
    until(lambda: path.exists() and path.read_text().strip(), f"{path} to be written", within=10)
    return int(path.read_text())


@pytest.fixture
def pid_file(tmp_path: Path) -> Iterator[Path]:
    """Where a test's escaping process writes its pid; whatever it names is killed after."""
    path = tmp_path / "escaped.pid"
    yield path
    if path.exists() and path.read_text().strip():
        try:
            os.kill(int(path.read_text()), signal.SIGKILL)
        except ProcessLookupError:
            pass


pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


@pytest.mark.parametrize("body", ESCAPES.values(), ids=ESCAPES.keys())
def test_deadline_kills_a_child_that_left_the_session(
    tmp_path: Path, pid_file: Path, body: str
) -> None:
    started = time.monotonic()
    record = run_argv([str(_script(tmp_path, body)), str(pid_file)], timeout_s=2)
    elapsed = time.monotonic() - started

    assert elapsed < 10
    assert record.timed_out
    assert record.error is not None and record.error.startswith("timed out after 2 s")
    assert record.stdout == "started\n"
    escaped = _pid_in(pid_file)
    until(lambda: not _running(escaped), "the escaped child to die", within=10)


def _in_session(session: int) -> list[int]:
    """Processes of ``session`` still in the process table, zombies included."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session:
            found.append(int(entry.name))
    return found


def test_nothing_of_a_timed_out_command_is_left_not_even_a_zombie() -> None:
    # `true` exits at once and its parent never waits for it: a zombie until someone reaps it.
    record = run_argv(["sh", "-c", "echo $$; true & exec sleep 25"], timeout_s=1)

    assert record.timed_out
    assert _in_session(int(record.stdout.split()[0])) == []


def test_exit_with_a_daemon_holding_output_returns_and_kills_it(
    tmp_path: Path, pid_file: Path
) -> None:
    started = time.monotonic()
    record = run_argv([str(_script(tmp_path, DAEMON)), str(pid_file)], timeout_s=20)
    elapsed = time.monotonic() - started

    assert elapsed < 8
    assert record.exit_code == 0
    assert not record.timed_out
    assert record.error == "exited 0 but left 1 background process holding its output; killed"
    assert not record.ok
    assert record.stdout == "main done\ndaemon started\n"
    daemon = _pid_in(pid_file)
    until(lambda: not _running(daemon), "the daemon to die", within=10)


def test_command_dies_with_the_process_that_started_it(tmp_path: Path, pid_file: Path) -> None:
    owner_code = (
        "import sys\n"
        "from incident_commander.process import run_argv\n"
        "run_argv(['sh', '-c', 'echo $$ > \"$1\"; exec sleep 25', 'sh', sys.argv[1]],"
        " timeout_s=60)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", owner_code, str(pid_file)])
    try:
        command = _pid_in(pid_file)
        owner.send_signal(signal.SIGKILL)
    finally:
        owner.wait()

    until(lambda: not _running(command), "the command to die with its owner", within=10)


SECRET = "hunter2-Very-Secret-Value"


def test_secret_across_the_output_limit_is_masked_whole() -> None:
    payload = "x" * (OUTPUT_LIMIT - 8) + SECRET + " tail"

    record = run_argv(
        ["sh", "-c", 'printf "%s" "$1"', "sh", payload], timeout_s=10, secrets=[SECRET]
    )

    assert SECRET[:5] not in record.stdout
    assert record.stdout.startswith("x" * (OUTPUT_LIMIT - 8) + MASK[:8])
    assert record.stdout.endswith("more characters cut]")


def test_secret_cut_by_the_deadline_shows_no_beginning() -> None:
    record = run_argv(
        ["sh", "-c", 'printf "token: %s" "$1"; exec sleep 25', "sh", SECRET[:12]],
        timeout_s=1,
        secrets=[SECRET],
    )

    assert record.timed_out
    assert record.stdout == f"token: {MASK}"
