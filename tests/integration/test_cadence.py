"""The update cadence with compressed minutes: a silent incident of a top level reminds its
responders once per overdue period, an update starts the period again, and quiet levels and
resolved incidents are never reminded."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import select

from incident_commander.store.db import open_store
from incident_commander.store.models import Event, Incident
from tests.conftest import assert_clean_error, ic_path
from tests.waiting import until
from tests.workspace import Workspace

CADENCE_MINUTES = 0.03  # 1.8 s
PERIOD = timedelta(minutes=CADENCE_MINUTES)
CHANNELS = [
    {"name": "inbox", "kind": "file", "path": "inbox.log", "audience": "on-call"},
    {"name": "room", "kind": "file", "path": "room.log", "audience": "stakeholders"},
]


def _events(ws: Workspace, incident: str, *kinds: str) -> list[Event]:
    store = open_store(ws.database_url)
    try:
        with store.session() as session:
            return list(
                session.scalars(
                    select(Event)
                    .where(Event.incident_id == incident, Event.kind.in_(kinds))
                    .order_by(Event.seq)
                )
            )
    finally:
        store.dispose()


def _detected_at(ws: Workspace, incident: str) -> datetime:
    store = open_store(ws.database_url)
    try:
        with store.session() as session:
            found = session.get(Incident, incident)
            assert found is not None
            return found.detected_at
    finally:
        store.dispose()


@contextmanager
def _watching(ws: Workspace) -> Iterator[None]:
    """`ic watch` as a process of its own, looking every 0.1 s."""
    watcher = subprocess.Popen(
        [ic_path(), "watch", "--every", "0.1"],
        cwd=ws.root,
        env={**ws.env, "PATH": f"{sys.prefix}/bin:/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        watcher.send_signal(signal.SIGTERM)
        try:
            watcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            watcher.kill()
            watcher.wait()


def test_a_silent_incident_reminds_its_responders_once_per_period(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(
        notifications=CHANNELS,
        update_cadence_minutes={"SEV1": CADENCE_MINUTES},
        monitoring={"every_seconds": 0.1},
    )
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--no")
    detected = _detected_at(ws, incident)

    with _watching(ws):
        until(lambda: len(_events(ws, incident, "update.overdue")) >= 1, "a first reminder")
        ws.ok("notify", incident, "--audience", "on-call", "--message", "rolling back now")
        (update,) = _events(ws, incident, "update.posted")
        until(
            lambda: any(r.at > update.at for r in _events(ws, incident, "update.overdue")),
            "a reminder after the update",
        )

    reminders = _events(ws, incident, "update.overdue")
    after = [r for r in reminders if r.at > update.at]
    # Not before a whole period of silence: after the detection, then after the update.
    assert reminders[0].at - detected >= PERIOD
    assert after[0].at - update.at >= PERIOD
    for earlier, later in itertools.pairwise(reminders):
        assert later.at - earlier.at >= PERIOD, "two reminders within one period"
    assert "status update overdue: none for" in reminders[0].message
    assert "one is due every 0.03 min while a SEV1 incident is open" in reminders[0].message
    assert reminders[0].message.endswith("reminded on-call")
    # The responders heard of it; the stakeholders did not.
    inbox = (ws.root / "inbox.log").read_text()
    assert inbox.count("status update overdue") == len(reminders)
    assert f"ic notify {incident} --audience AUDIENCE" in inbox
    assert "overdue" not in (ws.root / "room.log").read_text()
    timeline = ws.read(incident, "incident-timeline.md")
    assert "status update overdue" in timeline


def test_quiet_levels_and_resolved_incidents_are_never_reminded(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(
        notifications=CHANNELS,
        update_cadence_minutes={"SEV1": CADENCE_MINUTES},
        monitoring={"every_seconds": 0.1},
    )
    low = ws.declare("the footer is misaligned")
    ws.ok("assess", low, "--not-production", "--as", "on-call", "--no")
    top = ws.declare()
    ws.ok("assess", top, "--production", "--outage", "--as", "on-call", "--no")
    # Resolved: still SEV1, but its work is done.
    done = ws.declare("checkout returns 502")
    ws.ok("assess", done, "--production", "--outage", "--as", "on-call")
    ws.ok("approve", done, "--yes", "--as", "on-call")
    ws.ok("plan", done, "--yes", "--as", "on-call")
    ws.ok("execute", done)
    ws.ok("validate", done, "--yes", "--as", "on-call")

    until(
        lambda: "update.overdue: status update overdue" in ws.ok("watch", "--once").stderr,
        "the SEV1 incident's reminder",
    )
    # By now a whole period passed for all three: only the open SEV1 incident was reminded.
    ws.ok("watch", "--once")
    assert len(_events(ws, top, "update.overdue")) >= 1
    assert _events(ws, low, "update.overdue") == []
    assert _events(ws, done, "update.overdue") == []
    assert json.loads(ws.ok("show", done, "--json").stdout)["status"] == "monitoring"


def test_the_cadence_defaults_to_the_top_two_levels_and_refuses_unknown_ones(
    workspace: Workspace,
) -> None:
    from incident_commander.config import load_settings

    ws = workspace
    ws.configure()
    assert load_settings(ws.root / "ic.yaml").update_cadence == {"SEV1": 15.0, "SEV2": 15.0}
    ws.configure(update_cadence_minutes={})
    assert load_settings(ws.root / "ic.yaml").update_cadence == {}

    ws.configure(update_cadence_minutes={"SEV9": 15})
    assert_clean_error(
        ws.ic("list"), 2, "update_cadence_minutes: unknown severity 'SEV9'", "SEV1, SEV2"
    )
    ws.configure(update_cadence_minutes={"SEV1": 0})
    assert_clean_error(ws.ic("list"), 2, "update_cadence_minutes.SEV1")
