"""A rollback runs once, and only while someone owns it: the execution lease in the store."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from incident_commander.clock import utcnow
from incident_commander.protocol.pids import mark_of
from incident_commander.store.models import Decision, Execution, Incident
from tests.conftest import ic_path
from tests.waiting import until
from tests.workspace import Workspace, script_option

# Appends a line per run (so a test can count runs), then waits until the test lets it finish.
WAIT_SH = """#!/usr/bin/env bash
here="$(cd "$(dirname "$0")/.." && pwd)"
echo ran >> "$here/ran-wait"
while [ ! -e "$here/finish-wait" ]; do sleep 0.05; done
echo "finished"
"""

DEADLINE = 60.0


def _runs(ws: Workspace) -> int:
    path = ws.root / "ran-wait"
    return path.read_text().count("ran") if path.exists() else 0


def _status(ws: Workspace, incident: str) -> str:
    return str(json.loads(ws.ok("show", incident, "--json").stdout)["status"])


@pytest.fixture
def db(workspace: Workspace) -> Iterator[Session]:
    engine = create_engine(workspace.database_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _with_wait_script(ws: Workspace) -> None:
    path = ws.root / "scripts" / "wait.sh"
    path.write_text(WAIT_SH)
    path.chmod(0o755)


def _to_awaiting(ws: Workspace) -> str:
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    return incident


def _claim_as(
    db: Session, incident: str, option: str, kind: str, *, owner: str, heartbeat_age: float
) -> int:
    """Record an execution the way another host's `ic execute` does when it starts one."""
    decision = db.scalars(
        select(Decision).where(Decision.incident_id == incident, Decision.kind == "mitigation")
    ).one()
    beat = utcnow() - timedelta(seconds=heartbeat_age)
    row = Execution(
        incident_id=incident,
        idempotency_key=f"{incident}:{decision.id}:{option}:1",
        option_name=option,
        kind=kind,
        decision_id=decision.id,
        status="started",
        owner=owner,
        target_release="v1",
        release_before="v2",
        started_at=beat,
        commands=[],
        heartbeat_at=beat,
        lease_expires_at=beat + timedelta(seconds=15),
        in_flight="web",
    )
    db.add(row)
    db.execute(update(Incident).where(Incident.id == incident).values(status="executing"))
    db.commit()
    return row.id


def _row(db: Session, execution_id: int) -> Execution:
    db.expire_all()
    row = db.get(Execution, execution_id)
    assert row is not None
    return row


def _start_execute(ws: Workspace, incident: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [ic_path(), "execute", incident],
        cwd=ws.root,
        env={**os.environ, **ws.env, "COLUMNS": "200", "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _gone(pid: int) -> bool:
    """The process has exited (or is a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_fresh_lease_on_another_host_refuses_and_runs_nothing(
    workspace: Workspace, db: Session
) -> None:
    ws = workspace
    ws.configure([script_option("only", "rollback_ok.sh")])
    incident = _to_awaiting(ws)
    execution = _claim_as(db, incident, "only", "script", owner="otherhost:1234", heartbeat_age=2)

    result = ws.ic("execute", incident)

    assert result.returncode == 4, result.stdout + result.stderr
    assert re.search(
        rf"execution {execution} \(only\) is running, owned by otherhost:1234, heartbeat \d+ s ago",
        result.stderr,
    ), result.stderr
    assert not ws.ran("rollback_ok")
    assert _row(db, execution).status == "started"
    assert _status(ws, incident) == "executing"


def test_an_expired_lease_is_settled_by_the_live_release(workspace: Workspace, db: Session) -> None:
    ws = workspace
    ws.configure()
    incident = _to_awaiting(ws)
    execution = _claim_as(
        db, incident, "switch-release", "release-symlink", owner="otherhost:1234", heartbeat_age=60
    )
    # The other host's command switched the release before its owner went silent.
    (ws.root / "current").unlink()
    (ws.root / "current").symlink_to("releases/v1")

    result = ws.ok("execute", incident)

    assert "the rollback took effect" in result.stdout
    assert "otherhost:1234" in result.stdout
    row = _row(db, execution)
    assert (row.status, row.release_after, row.in_flight) == ("succeeded", "v1", None)
    assert _status(ws, incident) == "validating"


def test_an_expired_lease_without_a_state_check_records_outcome_unknown(
    workspace: Workspace, db: Session
) -> None:
    ws = workspace
    ws.configure([script_option("only", "rollback_ok.sh")])
    incident = _to_awaiting(ws)
    execution = _claim_as(db, incident, "only", "script", owner="otherhost:1234", heartbeat_age=60)

    result = ws.ic("execute", incident)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "outcome unknown" in result.stdout and "nothing was re-run" in result.stdout
    assert not ws.ran("rollback_ok")
    row = _row(db, execution)
    assert row.status == "interrupted" and row.in_flight is None
    assert row.error is not None and "outcome unknown" in row.error
    assert _status(ws, incident) == "planning"
    assert ws.ic("evidence", "verify", incident).returncode == 0


def test_racing_executes_run_the_script_once(postgres_url: str, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    ws = Workspace(root, postgres_url)
    ws.start()
    try:
        _with_wait_script(ws)
        ws.configure([script_option("only", "wait.sh", timeout_seconds=60)])
        incident = _to_awaiting(ws)
        racers = [_start_execute(ws, incident) for _ in range(2)]
        until(lambda: any(p.poll() is not None for p in racers), "one racer to give up")
        (ws.root / "finish-wait").touch()
        outputs = [p.communicate(timeout=DEADLINE) for p in racers]
    finally:
        ws.stop()

    codes = sorted(p.returncode for p in racers)
    assert codes == [0, 4], outputs
    refused = outputs[[p.returncode for p in racers].index(4)][1]
    assert "is running, owned by" in refused and "heartbeat" in refused, refused
    assert _runs(ws) == 1


def test_a_second_incident_of_the_service_waits_for_the_one_in_flight(
    workspace: Workspace,
) -> None:
    ws = workspace
    _with_wait_script(ws)
    ws.configure([script_option("only", "wait.sh", timeout_seconds=60)])
    first = _to_awaiting(ws)
    second = _to_awaiting(ws)
    running = _start_execute(ws, first)
    try:
        until(lambda: _runs(ws) == 1, "the first rollback to start")

        refused = ws.ic("execute", second)

        assert refused.returncode == 4, refused.stdout + refused.stderr
        assert f"web is in flight for incident {first}" in refused.stderr, refused.stderr
        assert _runs(ws) == 1
        assert _status(ws, second) == "awaiting_approval"
    finally:
        (ws.root / "finish-wait").touch()
        running.communicate(timeout=DEADLINE)
    assert running.returncode == 0

    ws.ok("execute", second)
    assert _runs(ws) == 2


def _recorded_pid(db: Session, incident: str) -> int | None:
    db.expire_all()
    row = db.scalars(select(Execution).where(Execution.incident_id == incident)).first()
    return row.command_pid if row is not None else None


def _expire_lease(db: Session, incident: str) -> None:
    past = utcnow() - timedelta(seconds=1)
    db.execute(
        update(Execution)
        .where(Execution.incident_id == incident)
        .values(heartbeat_at=past - timedelta(seconds=15), lease_expires_at=past)
    )
    db.commit()


def test_a_killed_owner_takes_its_command_along_and_a_survivor_is_never_replaced(
    workspace: Workspace, db: Session
) -> None:
    ws = workspace
    _with_wait_script(ws)
    ws.configure([script_option("slow", "wait.sh", timeout_seconds=60)])
    incident = _to_awaiting(ws)
    owner = _start_execute(ws, incident)
    survivor: subprocess.Popen[bytes] | None = None
    try:
        until(lambda: _recorded_pid(db, incident) is not None, "the command's pid in the store")
        pid = _recorded_pid(db, incident)
        assert pid is not None and _runs(ws) == 1
        owner.send_signal(signal.SIGKILL)
        owner.communicate(timeout=DEADLINE)
        until(lambda: _gone(pid), "the command to die with its owner")

        # Where a command can outlive its owner (no parent-death signal on that system), the
        # settle path must find it running and start nothing: stand one in for it.
        survivor = subprocess.Popen(["sleep", "60"], start_new_session=True)
        db.execute(
            update(Execution)
            .where(Execution.incident_id == incident)
            .values(command_pid=survivor.pid, command_mark=mark_of(survivor.pid))
        )
        db.commit()
        _expire_lease(db, incident)

        again = ws.ic("execute", incident)

        assert again.returncode == 4, again.stdout + again.stderr
        assert f"its command is still running (pid {survivor.pid})" in again.stderr, again.stderr
        assert _runs(ws) == 1
        assert _status(ws, incident) == "executing"
    finally:
        if survivor is not None:
            survivor.kill()
            survivor.wait()
        if owner.poll() is None:
            owner.kill()
            owner.communicate()

    settled = ws.ic("execute", incident)

    assert settled.returncode == 1
    assert "outcome unknown" in settled.stdout and "nothing was re-run" in settled.stdout
    assert _runs(ws) == 1
    assert _status(ws, incident) == "planning"


def test_the_real_outcome_of_a_late_command_is_recorded_when_its_owner_wakes(
    workspace: Workspace, db: Session
) -> None:
    ws = workspace
    _with_wait_script(ws)
    ws.configure([script_option("slow", "wait.sh", timeout_seconds=60)])
    incident = _to_awaiting(ws)
    owner = _start_execute(ws, incident)
    try:
        until(lambda: _recorded_pid(db, incident) is not None, "the command's pid in the store")
        pid = _recorded_pid(db, incident)
        assert pid is not None
        owner.send_signal(signal.SIGSTOP)  # the owner stalls; its lease runs out
        (ws.root / "finish-wait").touch()
        until(lambda: _gone(pid), "the command to finish")
        _expire_lease(db, incident)
        settled = ws.ic("execute", incident)
        assert settled.returncode == 1, settled.stdout + settled.stderr
        assert "outcome unknown" in settled.stdout
    finally:
        owner.send_signal(signal.SIGCONT)
        out, err = owner.communicate(timeout=DEADLINE)

    assert "finished after its lease" in out, out + err
    db.expire_all()
    row = db.scalars(select(Execution).where(Execution.incident_id == incident)).one()
    assert row.status == "succeeded"
    assert row.commands and row.commands[0]["stdout"] == "finished\n"
    assert _runs(ws) == 1
    assert _status(ws, incident) == "planning"
    timeline = ws.read(incident, "incident-timeline.md")
    assert "slow finished after its lease was lost: succeeded" in timeline
    assert ws.ic("evidence", "verify", incident).returncode == 0


def test_the_owner_renews_its_lease_while_the_command_runs(
    workspace: Workspace, db: Session
) -> None:
    ws = workspace
    _with_wait_script(ws)
    ws.configure([script_option("slow", "wait.sh", timeout_seconds=60)])
    incident = _to_awaiting(ws)
    owner = subprocess.Popen(
        [ic_path(), "execute", incident],
        cwd=ws.root,
        env={**os.environ, **ws.env, "IC_EXECUTION_LEASE_SECONDS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def renewed_past_the_first_lease() -> bool:
            db.expire_all()
            row = db.scalars(select(Execution).where(Execution.incident_id == incident)).first()
            return bool(
                row is not None
                and row.heartbeat_at is not None
                and (row.heartbeat_at - row.started_at).total_seconds() > 2
            )

        until(renewed_past_the_first_lease, "the lease to be renewed beyond its first second")

        again = ws.ic("execute", incident)

        assert again.returncode == 4, again.stdout + again.stderr
        assert "is running, owned by" in again.stderr
        assert _runs(ws) == 1
    finally:
        (ws.root / "finish-wait").touch()
        owner.communicate(timeout=DEADLINE)
    assert owner.returncode == 0
    assert _status(ws, incident) == "validating"


def test_an_option_already_attempted_under_the_approval_is_not_run_again(
    workspace: Workspace, db: Session
) -> None:
    ws = workspace
    ws.configure([script_option("first", "fail.sh"), script_option("second", "rollback_ok.sh")])
    incident = _to_awaiting(ws)
    # The owner recorded the first option as failed, then stopped before starting the second.
    decision = db.scalars(
        select(Decision).where(Decision.incident_id == incident, Decision.kind == "mitigation")
    ).one()
    db.add(
        Execution(
            incident_id=incident,
            idempotency_key=f"{incident}:{decision.id}:first:1",
            option_name="first",
            kind="script",
            decision_id=decision.id,
            status="failed",
            owner="otherhost:1234",
            started_at=utcnow(),
            finished_at=utcnow(),
            commands=[],
            error="exit code 3",
        )
    )
    db.execute(update(Incident).where(Incident.id == incident).values(status="executing"))
    db.commit()

    result = ws.ok("execute", incident)

    assert "second: succeeded" in result.stdout and "first:" not in result.stdout
    assert ws.ran("rollback_ok") and not ws.ran("fail")
    assert _status(ws, incident) == "validating"


FORKING_SH = """#!/usr/bin/env bash
here="$(cd "$(dirname "$0")/.." && pwd)"
echo ran >> "$here/ran-wait"
sleep 60 &
echo $! > "$here/forked.pid"
wait
"""


def test_what_a_killed_rollback_started_is_found_before_the_attempt_is_settled(
    workspace: Workspace, db: Session
) -> None:
    ws = workspace
    script = ws.root / "scripts" / "forking.sh"
    script.write_text(FORKING_SH)
    script.chmod(0o755)
    ws.configure([script_option("slow", "forking.sh", timeout_seconds=60)])
    incident = _to_awaiting(ws)
    owner = _start_execute(ws, incident)
    forked_file = ws.root / "forked.pid"
    forked: int | None = None
    try:
        until(lambda: forked_file.exists() and forked_file.read_text().strip(), "the fork")
        forked = int(forked_file.read_text())
        until(lambda: _recorded_pid(db, incident) is not None, "the command's pid in the store")
        pid = _recorded_pid(db, incident)
        assert pid is not None
        owner.send_signal(signal.SIGKILL)
        owner.communicate(timeout=DEADLINE)
        until(lambda: _gone(pid), "the command to die with its owner")
        assert not _gone(forked)  # what the command started outlives it
        _expire_lease(db, incident)

        again = ws.ic("execute", incident)

        assert again.returncode == 4, again.stdout + again.stderr
        assert f"processes its command started are still running (pid {forked})" in again.stderr
        assert _runs(ws) == 1
        assert _status(ws, incident) == "executing"
    finally:
        if forked is not None and not _gone(forked):
            os.kill(forked, signal.SIGKILL)
            until(lambda: _gone(forked), "the leftover process to stop")
        if owner.poll() is None:
            owner.kill()
            owner.communicate()

    settled = ws.ic("execute", incident)

    assert settled.returncode == 1
    assert "outcome unknown" in settled.stdout and "nothing was re-run" in settled.stdout
    assert _runs(ws) == 1
