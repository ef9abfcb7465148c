"""Running a command: an argv list, never a shell string, with a deadline and captured output.

The deadline holds for everything the command starts: at the deadline reading stops and the
whole process tree is killed (see ``proctree``), including processes that left the command's
session. When the command exits but something it started keeps its output open, ``run_argv``
waits a short grace period, then kills what is left and says so. Output is redacted whole,
then clipped, so a secret across the cut cannot leak its beginning.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from pydantic import BaseModel

from incident_commander import proctree
from incident_commander.clock import utcnow
from incident_commander.redact import redact

__all__ = ["CommandRecord", "run_argv"]

OUTPUT_LIMIT = 64 * 1024
# Bytes kept in memory per stream while reading; what comes after is counted, not kept.
CAPTURE_LIMIT = 1024 * 1024
# How long output may stay open after the command exited, for a last write of its children.
EXIT_GRACE_S = 0.5
# How often the process table is read while a command runs, to see orphans before they hide.
LOOK_EVERY_S = 0.1
_POLL_S = 0.05
_REAP_S = 2.0


class CommandRecord(BaseModel):
    """What one command did, as written to the evidence (secrets already redacted)."""

    argv: list[str]
    cwd: str | None
    env: dict[str, str]
    exit_code: int | None
    stdout: str
    stderr: str
    started_at: datetime
    finished_at: datetime
    duration_s: float
    timed_out: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.error is None


@dataclass
class _Stream:
    """One output pipe's bytes, as far as they were read."""

    chunks: list[bytes] = field(default_factory=list)
    kept: int = 0
    dropped: int = 0
    closed: bool = False  # its end was read
    stopped: bool = False  # reading stopped before its end: the last bytes may be a fragment

    def take(self, data: bytes) -> None:
        room = CAPTURE_LIMIT - self.kept
        if room > 0:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def shown(self, secrets: list[str]) -> str:
        """The text for the record: redacted whole, then clipped."""
        text = b"".join(self.chunks).decode("utf-8", "replace")
        text = redact(text, secrets, cut=self.dropped > 0 or self.stopped or not self.closed)
        if len(text) <= OUTPUT_LIMIT and not self.dropped:
            return text
        more = max(0, len(text) - OUTPUT_LIMIT)
        cut = f"{more} more characters" if more else ""
        if self.dropped:
            cut += f"{' and ' if cut else ''}{self.dropped} more bytes"
        return text[:OUTPUT_LIMIT] + f"\n[... {cut} cut]"


class _Reader:
    """Reads both pipes without blocking, and notices the command's exit without reaping it."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.out = _Stream()
        self.err = _Stream()
        self.selector = selectors.DefaultSelector()
        pipes: list[tuple[IO[bytes] | None, _Stream]] = [
            (proc.stdout, self.out),
            (proc.stderr, self.err),
        ]
        for pipe, stream in pipes:
            if pipe is not None:
                os.set_blocking(pipe.fileno(), False)
                self.selector.register(pipe.fileno(), selectors.EVENT_READ, stream)
        self.exit_fd: int | None = None
        try:
            self.exit_fd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            pass
        else:
            self.selector.register(self.exit_fd, selectors.EVENT_READ, None)

    @property
    def reading(self) -> bool:
        return any(key.data is not None for key in self.selector.get_map().values())

    def exited(self) -> bool:
        found = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return found is not None and found.si_pid == self.proc.pid

    def wait(self, seconds: float) -> None:
        """Read what arrives for up to ``seconds`` (less when the command exits)."""
        if self.exit_fd is None:
            seconds = min(seconds, _POLL_S)
        for key, _ in self.selector.select(max(seconds, 0.0)):
            if key.data is None:  # the command exited: stop watching for it
                self.selector.unregister(key.fd)
                continue
            self._read(key.fd, key.data)

    def stop(self) -> None:
        """Reading stops here: what is still open is known to be cut short."""
        for stream in (self.out, self.err):
            stream.stopped = not stream.closed

    def drain(self) -> None:
        """Read what is already in the pipes, without waiting (the writers are dead)."""
        for key in list(self.selector.get_map().values()):
            if key.data is not None:
                for _ in range(64):
                    if not self._read(key.fd, key.data):
                        break

    def _read(self, fd: int, stream: _Stream) -> bool:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return False
        if not data:
            stream.closed = True
            self.selector.unregister(fd)
            return False
        stream.take(data)
        return True

    def close(self) -> None:
        self.selector.close()
        if self.exit_fd is not None:
            os.close(self.exit_fd)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def _inodes(proc: subprocess.Popen[bytes]) -> list[int]:
    return [os.fstat(p.fileno()).st_ino for p in (proc.stdout, proc.stderr) if p is not None]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 'es'}"


def _follow(
    proc: subprocess.Popen[bytes], run_id: str, deadline: float, timeout_s: float
) -> tuple[_Reader, int | None, bool, str | None]:
    """Watch the command to its end or its deadline; returns exit code, timed out, error."""
    reader = _Reader(proc)
    tree = proctree.ProcessTree(proc.pid, run_id, _inodes(proc))
    exited_at: float | None = None
    next_look = time.monotonic() + LOOK_EVERY_S
    try:
        while True:
            now = time.monotonic()
            if exited_at is None and reader.exited():
                exited_at = now
            if exited_at is not None and not reader.reading:
                break
            stop = deadline if exited_at is None else min(deadline, exited_at + EXIT_GRACE_S)
            if now >= stop:
                break
            if now >= next_look:
                tree.observe()
                next_look = now + LOOK_EVERY_S
            reader.wait(min(stop, next_look) - now)
    except BaseException:  # interrupted: leave nothing running behind
        tree.end(time.monotonic() + _REAP_S)
        proc.wait()
        reader.close()
        raise
    error: str | None = None
    timed_out = exited_at is None
    reader.stop()
    if timed_out:
        killed = tree.end(time.monotonic() + _REAP_S)
        error = f"timed out after {timeout_s:g} s; killed the command"
        error += f" and {_plural(killed, 'process')} it started" if killed else ""
    elif reader.reading:
        killed = tree.end(time.monotonic() + _REAP_S)
        error = (
            f"exited {proc.wait()} but left {_plural(max(killed, 1), 'background process')} "
            "holding its output; killed"
        )
    else:
        tree.release(tree.leftovers())
    reader.drain()
    return reader, proc.wait(), timed_out, error


def run_argv(
    argv: list[str],
    *,
    timeout_s: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    secrets: list[str] | None = None,
) -> CommandRecord:
    """Run ``argv`` without a shell; by the deadline, kill all it started; capture output.

    ``env`` is added to the current environment; the record shows only the added variables,
    with every value in ``secrets`` (and every added variable that looks secret) redacted.
    """
    secret_values = list(secrets or [])
    added = dict(env or {})
    run_id = uuid.uuid4().hex
    full_env = {**os.environ, **added, proctree.RUN_ID_VARIABLE: run_id}
    work = proctree.work_tag()
    if work is not None:  # every process of a rollback attempt can be found by its settler
        full_env[proctree.WORK_VARIABLE] = work
    started_at = utcnow()
    start = time.monotonic()
    exit_code: int | None = None
    timed_out = False
    error: str | None = None
    stdout = stderr = ""
    proctree.prepare()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=proctree.owner_guard(),
        )
    except OSError as exc:
        error = f"could not start {argv[0]!r}: {exc.strerror or exc}"
    else:
        reader, exit_code, timed_out, error = _follow(proc, run_id, start + timeout_s, timeout_s)
        try:
            stdout = reader.out.shown(secret_values)
            stderr = reader.err.shown(secret_values)
        finally:
            reader.close()
    duration = time.monotonic() - start
    shown_env = {key: redact(value, secret_values, key=key) for key, value in added.items()}
    return CommandRecord(
        argv=[redact(arg, secret_values) for arg in argv],
        cwd=str(cwd) if cwd else None,
        env=shown_env,
        exit_code=exit_code,
        stdout=stdout,
        stderr=stderr,
        started_at=started_at,
        finished_at=utcnow(),
        duration_s=round(duration, 4),
        timed_out=timed_out,
        error=error,
    )
