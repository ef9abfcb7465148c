"""The lease an execution's owner holds in the store while its command runs.

The owner (``host:pid``) renews ``heartbeat_at`` / ``lease_expires_at`` from a background
thread, each renewal its own short transaction, and records the pid of the command it runs.
Anyone else may settle the execution only once the lease has expired, or at once when the
owner is a process on this host that is gone. If a renewal finds the execution taken from its
owner, the owner stops its command: a rollback runs only while someone owns it.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from datetime import datetime, timedelta
from types import TracebackType

from sqlalchemy import text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from incident_commander import proctree
from incident_commander.clock import utcnow
from incident_commander.errors import ConfigError
from incident_commander.executors.base import ExecutionStatus
from incident_commander.protocol import pids
from incident_commander.store.db import Store
from incident_commander.store.models import Execution

__all__ = [
    "HOST",
    "Heartbeat",
    "heartbeat_age",
    "lease_seconds",
    "owner_gone",
    "owner_id",
    "still_running",
    "store_now",
    "work_tag",
]

HOST = socket.gethostname()
DEFAULT_LEASE_SECONDS = 15.0
LEASE_ENV = "IC_EXECUTION_LEASE_SECONDS"
POLL_SECONDS = 0.1


def lease_seconds() -> float:
    """How long a lease lasts without renewal (``IC_EXECUTION_LEASE_SECONDS``, default 15)."""
    raw = os.environ.get(LEASE_ENV)
    if not raw:
        return DEFAULT_LEASE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0
    if not value > 0:
        raise ConfigError(f"{LEASE_ENV}: expected a number of seconds above 0, got {raw!r}")
    return value


def owner_id() -> str:
    return f"{HOST}:{os.getpid()}"


def _split(owner: str) -> tuple[str, int | None]:
    host, _, pid = owner.rpartition(":")
    return host, int(pid) if pid.isdigit() else None


def owner_gone(owner: str) -> bool:
    """True only when the owner is a process on this host that no longer runs.

    An owner on another host is never declared gone: only its lease tells.
    """
    host, pid = _split(owner)
    return host == HOST and pid is not None and not pids.alive(pid)


def work_tag(row: Execution) -> str:
    """The name every process of ``row``'s attempt carries (see ``proctree.working``)."""
    return f"{row.owner}/execution-{row.id}/{row.idempotency_key}"


def still_running(row: Execution) -> list[int]:
    """The processes of ``row``'s attempt still running here: its command, and whatever the
    command started, however deep (unknowable on another host)."""
    host, _ = _split(row.owner)
    if host != HOST:
        return []
    found = set(proctree.carrying(work_tag(row)))
    if row.command_pid is not None and pids.running(row.command_pid, row.command_mark):
        found.add(row.command_pid)
    return sorted(found)


def store_now(session: Session) -> datetime:
    """The store's clock, so hosts compare leases on one clock (PostgreSQL); else this host's."""
    if session.get_bind().dialect.name == "postgresql":
        now = session.scalar(text("SELECT clock_timestamp()"))
        if isinstance(now, datetime):
            return now
    return utcnow()


def heartbeat_age(row: Execution, now: datetime) -> str:
    if row.heartbeat_at is None:
        return "no heartbeat recorded"
    return f"heartbeat {max(0, round((now - row.heartbeat_at).total_seconds()))} s ago"


class Heartbeat:
    """Renew one execution's lease while the calling thread runs its command.

    Build it in the thread that runs the command: the children of that thread are the command.
    """

    def __init__(self, store: Store, execution_id: int, owner: str, lease_s: float) -> None:
        self.store = store
        self.execution_id = execution_id
        self.owner = owner
        self.lease = timedelta(seconds=lease_s)
        self.every = lease_s / 3
        self.lost = False
        self._tid = threading.get_native_id()
        self._command: tuple[int, str | None] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{execution_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        due = time.monotonic() + self.every
        while not self._stop.wait(POLL_SECONDS):
            found = self._new_command()
            if found is None and time.monotonic() < due:
                continue
            renewed = self._renew(found)
            if renewed is None:  # the store did not answer; nobody can take the lease either
                continue
            if not renewed:
                self.lost = True
                self._stop_command()
                return
            if found is not None:
                self._command = found
            due = time.monotonic() + self.every

    def _new_command(self) -> tuple[int, str | None] | None:
        children = pids.children_of_thread(self._tid)
        if not children:
            return None
        pid = children[-1]
        if self._command is not None and self._command[0] == pid:
            return None
        return pid, pids.mark_of(pid)

    def _renew(self, command: tuple[int, str | None] | None) -> bool | None:
        """Extend the lease (and record a new command); ``False`` if it is no longer ours."""
        try:
            with self.store.session() as session:
                now = store_now(session)
                values: dict[str, object] = {
                    "heartbeat_at": now,
                    "lease_expires_at": now + self.lease,
                }
                if command is not None:
                    values["command_pid"], values["command_mark"] = command
                result = session.connection().execute(
                    update(Execution)
                    .where(
                        Execution.id == self.execution_id,
                        Execution.owner == self.owner,
                        Execution.status == ExecutionStatus.STARTED.value,
                    )
                    .values(**values)
                )
                return result.rowcount == 1
        except SQLAlchemyError:
            return None

    def _stop_command(self) -> None:
        if self._command is None:
            return
        pid, mark = self._command
        if pids.running(pid, mark):
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
