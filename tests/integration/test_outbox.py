"""Notifications go out after the commit: a channel that hangs delays nothing else."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.server import Server
from tests.workspace import Workspace


def test_a_hanging_channel_delays_neither_a_webhook_answer_nor_the_rollback(
    tmp_path: Path,
) -> None:
    ws = Workspace(tmp_path, f"sqlite:///{tmp_path / 'ic.db'}")
    os.mkfifo(tmp_path / "pager.fifo")  # opening it for writing blocks: nobody ever reads it
    ws.configure(
        notifications=[
            {"name": "pager", "kind": "file", "path": "pager.fifo", "audience": "on-call"},
            {"name": "inbox", "kind": "file", "path": "inbox.log", "audience": "stakeholders"},
        ],
        policies=[
            {"name": "auto", "approves": ["severity", "mitigation", "resolution"]},
        ],
    )
    ws.ok("deploy", "record", "--service", "web", "--version", "v1", "--at", "2026-01-01T00:00:00Z")
    ws.ok("deploy", "record", "--service", "web", "--version", "v2")
    ws.start()  # v2 is live: /health answers 500, the probes open an incident
    server = Server(tmp_path, ws.env)
    try:
        rows = server.wait_for("/api/v1/incidents", lambda r: len(r) == 1, timeout=30)
        incident = rows[0]["id"]
        started = time.monotonic()
        answer = server.post(
            "/webhooks/generic", {"alerts": [{"summary": "disk full", "service": "db"}]}
        )
        answered_in = time.monotonic() - started
        server.wait_for(f"/api/v1/incidents/{incident}", lambda i: i["status"] == "monitoring")
        inbox = tmp_path / "inbox.log"
        server.eventually(lambda: _contains(inbox, "[RESOLVED] web: "))
    finally:
        log = server.stop()
        ws.stop()
    assert answer.status_code == 200, answer.text
    assert answered_in < 10, answered_in  # the pager hangs forever; the answer must not wait
    assert ws.live_release() == "v1"
    communication = (
        tmp_path / ".artifacts" / "incidents" / incident / "communication-log.md"
    ).read_text()
    assert "queued for delivery" in communication  # the pager's messages, still waiting
    assert "Traceback" not in log


def _contains(path: Path, text: str) -> None:
    assert text in path.read_text()
