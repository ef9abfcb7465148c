"""Fixtures of the integration tests that talk to a real `ic serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import Server
from tests.workspace import Workspace


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    """`ic serve` (no probes) in a workspace on SQLite and on PostgreSQL; no traceback at stop."""
    root = tmp_path / "ws"
    root.mkdir()
    ws = Workspace(root, database_url)
    ws.configure()
    started = Server(root, ws.env, "--no-probes")
    yield started
    assert "Traceback" not in started.stop()
