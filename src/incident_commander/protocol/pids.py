"""Which process runs a command, and whether that very process still runs (Linux ``/proc``).

A pid alone can be reused, so a process is named by its pid plus a mark: the boot id and the
process's start time in clock ticks. Where ``/proc`` is missing nothing is found, and a
process nobody can see is reported as not running.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["alive", "children_of_thread", "mark_of", "running"]

PROC = Path("/proc")


def _boot_id() -> str:
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


BOOT_ID = _boot_id()


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or ``None``."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def mark_of(pid: int) -> str | None:
    """``boot-id:start-ticks`` of a live process, or ``None`` when it cannot be read."""
    fields = _stat(pid)
    if fields is None or len(fields) < 20 or not BOOT_ID:
        return None
    return f"{BOOT_ID}:{fields[19]}"


def running(pid: int, mark: str | None) -> bool:
    """Whether the process named by ``pid`` and ``mark`` still runs (a zombie does not)."""
    fields = _stat(pid)
    if fields is None or fields[0] == "Z":
        return False
    return mark is None or mark_of(pid) == mark


def alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host and is not a zombie."""
    fields = _stat(pid)
    if fields is not None:
        return fields[0] != "Z"
    if PROC.is_dir():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def children_of_thread(tid: int) -> list[int]:
    """The processes started by thread ``tid`` of this process that have not been reaped yet."""
    path = PROC / str(os.getpid()) / "task" / str(tid) / "children"
    try:
        return [int(part) for part in path.read_text().split()]
    except (OSError, ValueError):
        return []
