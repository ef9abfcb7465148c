"""Every command in the README and docs runs, in order, as a reader would type it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from incident_commander.demo.monitoring import ensure_installed
from tests.conftest import machine_lock

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```console\n(.*?)```", re.S)
TEST_COMMAND = "./scripts/test"


def commands(path: Path) -> list[str]:
    found = []
    for block in BLOCK.findall(path.read_text()):
        found += [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    return found


def test_readme_opens_with_the_two_commands() -> None:
    assert commands(ROOT / "README.md")[:2] == ["./scripts/demo", TEST_COMMAND]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec scripts/test" in ci and "IC_REQUIRE_POSTGRES=1" in ci


def sessions(path: Path) -> list[tuple[str, list[str]]]:
    """The page's commands as a reader's terminal sessions, each with a name.

    A bench (``python bench/…``) reads nothing the commands before it left, so each one is a
    session of its own, after the lines that set the shell up (``source …``): the benches of
    one page then run side by side instead of one after another.
    """
    lines = [c for c in commands(path) if c != TEST_COMMAND]
    preamble = [line for line in lines if line.startswith("source ")]
    benches = [line for line in lines if line.startswith("python bench/")]
    rest = [line for line in lines if line not in benches]
    found = [(path.name, rest)] if rest else []
    for n, line in enumerate(benches, start=1):
        bench = line.split()[1].removeprefix("bench/")
        found.append((f"{path.name}-{bench}-{n}", [*preamble, line]))
    return found


SESSIONS = [session for path in DOCS for session in sessions(path)]


def test_every_documented_command_is_run_by_this_test() -> None:
    for path in DOCS:
        assert commands(path) or path.name == "architecture.md", f"{path.name} shows no commands"
    run = [line for _, lines in SESSIONS for line in lines]
    for path in DOCS:
        for line in commands(path):
            assert line == TEST_COMMAND or line in run, f"{path.name}: `{line}` is never run"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("name", "lines"), SESSIONS, ids=[name for name, _ in SESSIONS])
def test_documented_commands_succeed(name: str, lines: list[str], tmp_path: Path) -> None:
    if any("bench/ingest.py" in line for line in lines):
        # The bench installs Prometheus and Alertmanager when they are missing; so do the
        # Alertmanager tests, maybe at this moment in another worker: one apt-get at a time.
        with machine_lock("debian-packages"):
            ensure_installed()
    # The reader's checkout: the scripts, the bench and the installed .venv, seen from a new folder.
    for part in ("scripts", "bench", ".venv"):
        (tmp_path / part).symlink_to(ROOT / part)
    script = ["set -u"]
    for n, line in enumerate(lines):
        script += [line, f'rc=$?; echo; echo "__rc__ {n} $rc"']
    env = {
        **os.environ,
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("IC_CONFIG", None)
    env.pop("IC_DATABASE_URL", None)
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=570,
        check=False,
    )
    codes = dict(re.findall(r"^__rc__ (\d+) (\d+)$", result.stdout, re.M))
    for n, line in enumerate(lines):
        assert codes.get(str(n)) == "0", (
            f"{name}: `{line}` exited {codes.get(str(n))}\n{result.stdout}\n{result.stderr}"
        )
