"""Is there a backup, and is it fresh enough? The readiness item every migration rollback has.

A backup is found one of two ways:

- ``glob``: the newest file matching a pattern (relative to the workspace); its modification
  time is the backup's time;
- ``command``: an argv whose standard output is the backup's age in seconds, or the time it was
  taken as an ISO 8601 timestamp (a time without a zone is read as UTC).

Either way the backup must be at most ``max_age_minutes`` old. What is found is said in the
item's detail: ``backups/app-0412.dump, 3 min old``, ``no backup: nothing matches
backups/*.dump``, ``backup too old: 42 min, limit 30``.
"""

from __future__ import annotations

import glob as globbing
import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from incident_commander.clock import utcnow
from incident_commander.executors.base import ReadinessItem
from incident_commander.process import run_argv

__all__ = ["BackupCheck", "backup_item", "parse_age"]

# A backup time this far in the future is a wrong clock or a wrong answer, not a fresh backup.
_FUTURE_TOLERANCE_S = 60.0


class BackupCheck(BaseModel):
    """Where the newest backup is found (``glob`` or ``command``) and how old it may be."""

    model_config = ConfigDict(extra="forbid")

    glob: str | None = Field(default=None, min_length=1)
    command: list[str] | None = Field(default=None, min_length=1)
    max_age_minutes: float = Field(gt=0)
    timeout_seconds: float = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _one_way(self) -> BackupCheck:
        if (self.glob is None) == (self.command is None):
            raise ValueError("give exactly one of 'glob' (backup files) or 'command' (prints age)")
        return self


def parse_age(text: str, now: datetime) -> float:
    """The age in seconds that a backup command printed: a number of seconds or a timestamp.

    Raises ``ValueError`` naming what was printed when it is neither.
    """
    shown = text.strip()
    if not shown:
        raise ValueError("the backup command printed nothing")
    last = shown.splitlines()[-1].strip()
    try:
        seconds = float(last)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"the backup command printed {last!r}, not an age in seconds")
        return seconds
    try:
        taken = datetime.fromisoformat(last.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"the backup command printed {last[:80]!r}: neither seconds nor an ISO timestamp"
        ) from None
    if taken.tzinfo is None:
        taken = taken.replace(tzinfo=UTC)
    age = (now - taken).total_seconds()
    if age < -_FUTURE_TOLERANCE_S:
        raise ValueError(f"the backup time {last} is in the future")
    return max(age, 0.0)


def _age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    return f"{int(seconds // 60)} min"


def _newest(pattern: str, base_dir: Path) -> tuple[Path, float] | None:
    """The newest regular file matching ``pattern`` and its age in seconds."""
    full = pattern if os.path.isabs(pattern) else str(base_dir / pattern)
    newest: tuple[Path, float] | None = None
    for name in globbing.glob(full):
        path = Path(name)
        try:
            if not path.is_file():
                continue
            mtime = path.stat().st_mtime
        except OSError:  # removed between listing and looking: not a backup to rely on
            continue
        if newest is None or mtime > newest[1]:
            newest = (path, mtime)
    if newest is None:
        return None
    age = utcnow().timestamp() - newest[1]
    return newest[0], max(age, 0.0)


def backup_item(
    option: str,
    check: BackupCheck,
    *,
    base_dir: Path,
    env: Mapping[str, str],
    secrets: list[str],
) -> ReadinessItem:
    """``option: backup newer than 30 min`` — found, and young enough."""
    limit_s = check.max_age_minutes * 60
    item = f"{option}: backup newer than {check.max_age_minutes:g} min"
    if check.glob is not None:
        method = f"newest file matching {check.glob} (modification time)"
        found = _newest(check.glob, base_dir)
        if found is None:
            return ReadinessItem(
                item=item,
                method=method,
                passed=False,
                detail=f"no backup: nothing matches {check.glob}",
            )
        path, age = found
        where = str(path.relative_to(base_dir)) if path.is_relative_to(base_dir) else str(path)
    else:
        assert check.command is not None
        record = run_argv(
            check.command,
            timeout_s=check.timeout_seconds,
            cwd=base_dir,
            env=dict(env),
            secrets=secrets,
        )
        method = "command: " + " ".join(record.argv)
        if not record.ok:
            why = record.error or f"exit code {record.exit_code}"
            said = (
                record.stderr.strip().splitlines()[-1:] or record.stdout.strip().splitlines()[-1:]
            )
            return ReadinessItem(
                item=item,
                method=method,
                passed=False,
                detail=f"no backup: the backup command failed ({why})"
                + (f": {said[0][:200]}" if said else ""),
            )
        try:
            age = parse_age(record.stdout, utcnow())
        except ValueError as exc:
            return ReadinessItem(item=item, method=method, passed=False, detail=f"no backup: {exc}")
        where = "backup"
    if age > limit_s:
        return ReadinessItem(
            item=item,
            method=method,
            passed=False,
            detail=(
                f"backup too old: {int(age // 60)} min, limit {check.max_age_minutes:g}"
                + (f" ({where})" if where != "backup" else "")
            ),
        )
    return ReadinessItem(
        item=item, method=method, passed=True, detail=f"{where}, {_age_text(age)} old"
    )
