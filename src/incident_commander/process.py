"""Running a command: an argv list, never a shell string, with a timeout and captured output."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from incident_commander.clock import utcnow
from incident_commander.redact import redact

__all__ = ["CommandRecord", "run_argv"]

OUTPUT_LIMIT = 64 * 1024


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


def _clip(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    return text[:OUTPUT_LIMIT] + f"\n[... {len(text) - OUTPUT_LIMIT} more characters cut]"


def run_argv(
    argv: list[str],
    *,
    timeout_s: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    secrets: list[str] | None = None,
) -> CommandRecord:
    """Run ``argv`` without a shell, kill its whole process group on timeout, capture output.

    ``env`` is added to the current environment; the record shows only the added variables,
    with every value in ``secrets`` (and every added variable that looks secret) redacted.
    """
    secret_values = list(secrets or [])
    added = dict(env or {})
    full_env = {**os.environ, **added}
    started_at = utcnow()
    start = time.monotonic()
    exit_code: int | None = None
    timed_out = False
    error: str | None = None
    stdout = stderr = ""
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        error = f"could not start {argv[0]!r}: {exc.strerror or exc}"
    else:
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
            exit_code = proc.returncode
        except subprocess.TimeoutExpired:
            timed_out = True
            error = f"timed out after {timeout_s:g} s; process group killed"
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            stdout, stderr = proc.communicate()
            exit_code = proc.returncode
    duration = time.monotonic() - start
    shown_env = {key: redact(value, secret_values, key=key) for key, value in added.items()}
    return CommandRecord(
        argv=[redact(arg, secret_values) for arg in argv],
        cwd=str(cwd) if cwd else None,
        env=shown_env,
        exit_code=exit_code,
        stdout=redact(_clip(stdout), secret_values),
        stderr=redact(_clip(stderr), secret_values),
        started_at=started_at,
        finished_at=utcnow(),
        duration_s=round(duration, 4),
        timed_out=timed_out,
        error=error,
    )
