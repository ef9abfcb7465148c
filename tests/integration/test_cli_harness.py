"""The tests' in-process `ic` answers exactly as the installed console script does."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.conftest import run_ic
from tests.workspace import Workspace


def test_in_process_ic_matches_the_console_script(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, f"sqlite:///{tmp_path / 'ic.db'}")
    ws.configure()
    incident = ws.declare()
    for args in (
        ["show", incident],  # a table, 200 columns wide, no colour
        ["show", incident, "--json"],
        ["list"],
        ["--help"],
        ["--version"],
        ["show", "INC-00000000-0000"],  # a user error: one line on stderr, its exit code
        ["assess", incident],  # no terminal: says how to answer
        ["gate", "check", incident],
        ["no-such-command"],  # Click's usage error
    ):
        inside = ws.ic(*args)
        outside = ws.ic(*args, process=True)
        assert (inside.returncode, inside.stdout, inside.stderr) == (
            outside.returncode,
            outside.stdout,
            outside.stderr,
        ), args


def test_in_process_ic_keeps_the_test_process_as_it_was(tmp_path: Path) -> None:
    before = (os.getcwd(), dict(os.environ), sys.stdin, sys.stdout, sys.stderr, sys.argv)
    result = run_ic("list", cwd=tmp_path, env={"IC_DATABASE_URL": "sqlite:///x.db"}, input="y\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.db").is_file()  # the relative path was taken from cwd
    after = (os.getcwd(), dict(os.environ), sys.stdin, sys.stdout, sys.stderr, sys.argv)
    assert after == before
