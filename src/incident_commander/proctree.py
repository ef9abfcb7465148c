"""The processes a command started, found and ended even when they leave its session.

A command runs in a session of its own, so most of what it starts shares its session id. A
process can leave that session (``setsid``) or be orphaned by a double fork; to keep track of
those, ``ic`` makes itself a child subreaper (orphans reparent to ``ic``, not to init) and
marks the command's environment with a per-run id. A process belongs to the command when it
is in its session or process group, was seen below it earlier, carries its id, holds one of
its output pipes, or descends from any of those. Ending the tree stops every member first
(``SIGSTOP``), looks again for what forked meanwhile, then kills them all, so a process
forking in a loop cannot outrun the kill. All of this needs Linux's ``/proc``; elsewhere only
the session's process group is killed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = [
    "RUN_ID_VARIABLE",
    "WORK_VARIABLE",
    "ProcessTree",
    "carrying",
    "owner_guard",
    "prepare",
    "work_tag",
    "working",
]

RUN_ID_VARIABLE = "IC_COMMAND_ID"
WORK_VARIABLE = "IC_WORK"
"""Carried by every process a piece of work (a rollback attempt) started, however deep: the
work's own name, so that whoever settles it later can find what still runs of it."""
_PROC = "/proc"
_HAS_PROC = sys.platform.startswith("linux") and os.path.exists(f"{_PROC}/self/stat")
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_STOP_ROUNDS = 20

_lock = threading.Lock()
_prctl: Callable[..., int] | None = None
_subreaper = False
# Processes a finished command left running on purpose (detached, output closed): reaped once
# they exit, since as their subreaper ``ic`` is now their parent.
_released: dict[int, int] = {}


@dataclass(frozen=True)
class Proc:
    """One line of the process table."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    start: int  # clock ticks after boot: tells a reused pid apart

    @property
    def dead(self) -> bool:
        return self.state in ("Z", "X")


def read_proc(pid: int) -> Proc | None:
    """The process ``pid`` as ``/proc`` shows it, or None when it is gone."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields follow the last ')'.
    fields = data[data.rindex(b")") + 2 :].split()
    return Proc(
        pid=pid,
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        state=fields[0].decode("ascii", "replace"),
        start=int(fields[19]),
    )


def _process_table() -> dict[int, Proc]:
    table: dict[int, Proc] = {}
    for entry in os.scandir(_PROC):
        if entry.name.isdigit() and (proc := read_proc(int(entry.name))) is not None:
            table[proc.pid] = proc
    return table


def _libc_prctl() -> Callable[..., int] | None:
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            return None
        function = libc.prctl
        function.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong]
        function.restype = ctypes.c_int
        _prctl = function
    return _prctl


def prepare() -> None:
    """Make this process a subreaper (once) and reap what earlier commands left behind."""
    global _subreaper
    with _lock:
        if not _subreaper and (prctl := _libc_prctl()) is not None:
            _subreaper = prctl(_PR_SET_CHILD_SUBREAPER, 1, 0) == 0
        _reap(_released)


def owner_guard() -> Callable[[], None] | None:
    """A ``preexec_fn`` that kills the command when the thread that started it dies.

    It makes one ``prctl`` call through a function resolved beforehand: no import, no lock
    and no library lookup happen in the forked child, which keeps it safe when other threads
    run. The kernel sends the signal when the starting *thread* exits; ``run_argv`` blocks
    that thread until the command has ended.
    """
    prctl = _libc_prctl()
    if prctl is None:
        return None
    owner = os.getpid()

    def guard() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0)
        if os.getppid() != owner:  # the owner died before the guard was in place
            os._exit(1)

    return guard


def _reap(processes: dict[int, int]) -> None:
    """Collect those of ``processes`` that are dead children of ours; forget the gone ones."""
    me = os.getpid()
    for pid, start in list(processes.items()):
        proc = read_proc(pid)
        if proc is None or proc.start != start:
            del processes[pid]
        elif proc.dead and proc.ppid == me:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if read_proc(pid) is None:
                del processes[pid]


def _signal(pid: int, start: int, signum: int) -> None:
    proc = read_proc(pid)
    if proc is not None and proc.start == start and not proc.dead:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


class ProcessTree:
    """The processes of one command, rooted at ``root`` (kept unreaped until ``end``)."""

    def __init__(self, root: int, run_id: str, pipe_inodes: Iterable[int] = ()) -> None:
        self.root = root
        self._mark = f"{RUN_ID_VARIABLE}={run_id}".encode()
        self._pipes = {f"pipe:[{inode}]" for inode in pipe_inodes}
        self._known: dict[int, int] = {}
        if _HAS_PROC and (proc := read_proc(root)) is not None:
            self._known[root] = proc.start

    def observe(self) -> None:
        """Remember what runs below the command now, before an orphan could hide it."""
        if _HAS_PROC:
            self._members(_process_table(), deep=False)

    def leftovers(self) -> list[Proc]:
        """Members still running besides the root (a quick look at the process table)."""
        if not _HAS_PROC:
            return []
        members = self._members(_process_table(), deep=False)
        return [p for p in members.values() if p.pid != self.root and not p.dead]

    def release(self, processes: Iterable[Proc]) -> None:
        """Leave ``processes`` running; reap them once they exit."""
        with _lock:
            _released.update({p.pid: p.start for p in processes})

    def end(self, until: float) -> int:
        """Stop, then kill every member; reap them by ``until``. Returns how many, root aside."""
        stopped: dict[int, int] = {}
        seen: dict[int, int] = {}  # every member, dead ones too: all are reaped
        if _HAS_PROC:
            for _ in range(_STOP_ROUNDS):
                members = self._members(_process_table(), deep=True)
                seen.update({pid: proc.start for pid, proc in members.items()})
                fresh = [p for p in members.values() if p.pid not in stopped and not p.dead]
                if not fresh:
                    break
                for proc in fresh:
                    _signal(proc.pid, proc.start, signal.SIGSTOP)
                    stopped[proc.pid] = proc.start
            for pid, start in stopped.items():
                _signal(pid, start, signal.SIGKILL)
        try:
            os.killpg(self.root, signal.SIGKILL)
        except OSError:
            pass
        if _HAS_PROC:  # what the group kill reached, to reap it as well
            members = self._members(_process_table(), deep=False)
            seen.update({pid: proc.start for pid, proc in members.items()})
        seen.pop(self.root, None)
        while seen and time.monotonic() < until:
            _reap(seen)
            if seen:
                time.sleep(0.005)
        return sum(1 for pid in stopped if pid != self.root)

    def _is_member(self, proc: Proc, me: int, deep: bool) -> bool:
        """``deep`` reads every process's environment and open files; else only orphans'."""
        if self._known.get(proc.pid) == proc.start:
            return True
        if proc.pid in (me, self.root):  # the root's pid, reused: cannot be while we hold it
            return False
        if proc.sid == self.root or proc.pgid == self.root:
            return True
        if deep:
            return self._carries_mark(proc.pid) or self._holds_pipe(proc.pid)
        return proc.ppid == me and self._carries_mark(proc.pid)

    def _members(self, table: dict[int, Proc], *, deep: bool) -> dict[int, Proc]:
        me = os.getpid()
        members = {pid: proc for pid, proc in table.items() if self._is_member(proc, me, deep)}
        children: dict[int, list[Proc]] = {}
        for proc in table.values():
            children.setdefault(proc.ppid, []).append(proc)
        pending = list(members)
        while pending:
            for child in children.get(pending.pop(), []):
                if child.pid not in members and child.pid != me:
                    members[child.pid] = child
                    pending.append(child.pid)
        for proc in members.values():
            self._known[proc.pid] = proc.start
        return members

    def _carries_mark(self, pid: int) -> bool:
        try:
            with open(f"{_PROC}/{pid}/environ", "rb") as handle:
                return self._mark in handle.read().split(b"\0")
        except OSError:
            return False

    def _holds_pipe(self, pid: int) -> bool:
        if not self._pipes:
            return False
        try:
            fds = os.listdir(f"{_PROC}/{pid}/fd")
        except OSError:
            return False
        for fd in fds:
            try:
                if os.readlink(f"{_PROC}/{pid}/fd/{fd}") in self._pipes:
                    return True
            except OSError:
                continue
        return False


_work = threading.local()


@contextmanager
def working(tag: str) -> Iterator[None]:
    """Commands this thread runs meanwhile carry ``tag`` in ``WORK_VARIABLE``."""
    previous = getattr(_work, "tag", None)
    _work.tag = tag
    try:
        yield
    finally:
        _work.tag = previous


def work_tag() -> str | None:
    """The tag of the work this thread is doing, if any."""
    tag = getattr(_work, "tag", None)
    return tag if isinstance(tag, str) else None


def carrying(tag: str) -> list[int]:
    """The live processes of this host whose environment carries work ``tag``."""
    if not _HAS_PROC:
        return []
    wanted = f"{WORK_VARIABLE}={tag}".encode()
    found = []
    for name in os.listdir(_PROC):
        if not name.isdigit():
            continue
        proc = read_proc(int(name))
        if proc is None or proc.dead:
            continue
        try:
            with open(f"{_PROC}/{name}/environ", "rb") as handle:
                if wanted in handle.read().split(b"\0"):
                    found.append(proc.pid)
        except OSError:
            continue
    return sorted(found)
