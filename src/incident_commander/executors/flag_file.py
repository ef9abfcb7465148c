"""Turns a feature flag off in a file (flagd's JSON or YAML, or a plain map), atomically.

Only the flag's value text changes; every other byte of the file stays as it was. The new file
is written beside the old one, synced, and renamed over it, so a reader (flagd, an OpenFeature
provider watching the file, the service itself) sees the old file or the new one, never half.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from incident_commander.clock import utcnow
from incident_commander.executors.base import (
    ExecutionContext,
    ExecutionResult,
    ExecutionStatus,
    Executor,
    ExecutorConfig,
    ReadinessItem,
    StateFound,
    render_argv,
)
from incident_commander.executors.flag_document import (
    DocumentError,
    Span,
    Syntax,
    locate,
    parse,
    replace_value,
)
from incident_commander.executors.toolkit import binary_item, check_placeholders, status_of
from incident_commander.process import CommandRecord, run_argv

__all__ = ["FlagFileConfig", "FlagFileExecutor", "FlagReading", "read_flag", "write_atomically"]

_PLACEHOLDERS = ("release", "service", "incident_id")


class FlagFileConfig(ExecutorConfig):
    """``path`` (relative to ic.yaml's folder), ``flag``, ``format``; ``restart`` is an argv."""

    kind: str = "flag-file"
    path: str = Field(min_length=1)
    flag: str = Field(min_length=1)
    format: Literal["flagd", "json", "yaml"] = "flagd"
    off_variant: str = Field(default="off", min_length=1)
    under: list[str] = Field(default_factory=list)
    restart: list[str] = Field(default_factory=list)
    restart_timeout_seconds: float = Field(default=60, gt=0)
    expected_minutes: float = 1

    @field_validator("restart")
    @classmethod
    def _restart_placeholders(cls, restart: list[str]) -> list[str]:
        check_placeholders(restart, _PLACEHOLDERS)
        return restart

    @model_validator(mode="after")
    def _under_only_for_plain_maps(self) -> FlagFileConfig:
        if self.under and self.format == "flagd":
            raise ValueError("under applies to json and yaml maps; flagd flags live in 'flags'")
        return self


@dataclass
class FlagReading:
    """What the flag file says now: a readiness item per finding, and the flag's value text."""

    path: Path
    items: list[ReadinessItem] = field(default_factory=list)
    raw: bytes = b""
    syntax: Syntax = "json"
    key_path: list[str] = field(default_factory=list)
    span: Span | None = None  # the value the executor changes (flagd: defaultVariant)
    off: bool = False  # that value is the off value now
    on: bool = False  # the flag is served on now (flagd: also its state is ENABLED)
    shown: str = ""
    off_value: bool | str = False

    @property
    def failed(self) -> ReadinessItem | None:
        return next((item for item in self.items if not item.passed), None)

    def add(self, item: str, method: str, passed: bool, detail: str) -> bool:
        self.items.append(ReadinessItem(item=item, method=method, passed=passed, detail=detail))
        return passed


def _syntax(config: FlagFileConfig, path: Path) -> Syntax:
    if config.format == "flagd":
        return "yaml" if path.suffix.lower() in (".yaml", ".yml") else "json"
    return config.format


def _names(mapping: object) -> str:
    if not isinstance(mapping, dict) or not mapping:
        return "none"
    keys = sorted(map(str, mapping))
    return ", ".join(keys[:10]) + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")


def _flagd(config: FlagFileConfig, reading: FlagReading, data: Any, text: str) -> None:
    name, label, off = config.flag, config.name, config.off_variant
    flags = data.get("flags") if isinstance(data, dict) else None
    flag = flags.get(name) if isinstance(flags, dict) else None
    if isinstance(flag, dict):
        found = f"state {flag.get('state')}, variants: {_names(flag.get('variants'))}"
    elif isinstance(flags, dict):
        found = f"no flag {name} in flags (defined: {_names(flags)})"
    else:
        found = "the file has no 'flags' map: is it a flagd flag file?"
    if not reading.add(
        f"{label}: flag {name} is defined", f"look up flags.{name}", isinstance(flag, dict), found
    ):
        return
    assert isinstance(flag, dict)
    variants = flag.get("variants")
    variants = variants if isinstance(variants, dict) else {}
    reading.add(
        f"{label}: off variant {off} is defined",
        f"look up flags.{name}.variants",
        off in variants,
        f"{off} = {variants[off]!r}" if off in variants else f"variants: {_names(variants)}",
    )
    targeting = flag.get("targeting")
    reading.add(
        f"{label}: no targeting rule overrides the default variant",
        f"look up flags.{name}.targeting",
        not targeting,
        "none" if not targeting else "targeting rules choose a variant before the default does",
    )
    reading.key_path = ["flags", name, "defaultVariant"]
    reading.span = locate(text, reading.syntax, reading.key_path)
    default, state = flag.get("defaultVariant"), flag.get("state")
    reading.off_value = off
    reading.off = reading.span is not None and default == off
    reading.on = state == "ENABLED" and reading.span is not None and not reading.off
    reading.shown = f"defaultVariant {json.dumps(default)}, state {state}"
    if reading.span is None:
        reading.shown = f"no defaultVariant to change, state {state}"


def _plain(config: FlagFileConfig, reading: FlagReading, text: str) -> None:
    reading.key_path = [*config.under, config.flag]
    dotted = ".".join(reading.key_path)
    span = locate(text, reading.syntax, reading.key_path)
    if not reading.add(
        f"{config.name}: flag {config.flag} is defined",
        f"look up {dotted}",
        span is not None and isinstance(span.value, bool),
        f"{dotted} is {span.value!r}" if span is not None else f"no key {dotted}",
    ):
        return
    assert span is not None
    reading.span = span
    reading.on, reading.off = span.value is True, span.value is False
    reading.shown = f"{dotted}: {'true' if span.value else 'false'}"


def read_flag(config: FlagFileConfig, base_dir: Path) -> FlagReading:
    """Read and parse the file, find the flag and its value; never raises."""
    path = (base_dir / config.path).resolve()
    reading = FlagReading(path=path, syntax=_syntax(config, path))
    label = config.name
    try:
        reading.raw = path.read_bytes()
        text = reading.raw.decode("utf-8")
        data = parse(text, reading.syntax)
        ok, detail = True, f"{path} ({len(reading.raw)} bytes)"
    except FileNotFoundError:
        ok, detail = False, f"{path} does not exist"
    except UnicodeDecodeError:
        ok, detail = False, f"{path} is not UTF-8 text"
    except (OSError, DocumentError) as exc:
        ok, detail = False, f"{path}: {exc}"
    parsed = f"{label}: flag file {config.path} exists and parses"
    if not reading.add(parsed, f"read and parse as {reading.syntax}", ok, detail):
        return reading
    try:
        if config.format == "flagd":
            _flagd(config, reading, data, text)
        else:
            _plain(config, reading, text)
    except DocumentError as exc:
        reading.span = None
        reading.add(f"{label}: flag {config.flag} is defined", "look up the flag", False, str(exc))
    return reading


def write_atomically(path: Path, data: bytes, *, expected: bytes) -> None:
    """Replace ``path`` with ``data``: a synced temporary file in the same folder, renamed over
    it, then the folder synced. Refused if the file no longer holds ``expected``."""
    mode = stat.S_IMODE(path.stat().st_mode)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        if path.read_bytes() != expected:
            raise OSError(f"{path} changed while the flag was being turned off; nothing written")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _record(
    cwd: Path, argv: list[str], started: datetime, out: str, error: str | None
) -> CommandRecord:
    """The edit, recorded like a command (it ran in this process, not as one)."""
    finished = utcnow()
    return CommandRecord(
        argv=argv,
        cwd=str(cwd),
        env={},
        exit_code=0 if error is None else 1,
        stdout=out,
        stderr="",
        started_at=started,
        finished_at=finished,
        duration_s=round((finished - started).total_seconds(), 4),
        error=error,
    )


def _state(config: FlagFileConfig, on: bool) -> str:
    """How the flag's state is shown where a release would be (``flag new-checkout off``)."""
    return f"flag {config.flag} {'on' if on else 'off'}"[:128]


class FlagFileExecutor(Executor):
    """Set a flag's value to off in its file, atomically, then run an optional ``restart``."""

    slug = "flag-file"
    title = "Turn a feature flag off in a file"
    Config: ClassVar[type[ExecutorConfig]] = FlagFileConfig
    needs_release = False
    requires = ("the flag file, parsed, in a writable folder", "the flag defined and on")

    def describe(self, config: ExecutorConfig, ctx: ExecutionContext) -> str:
        assert isinstance(config, FlagFileConfig)
        return f"turn flag {config.flag} off for {ctx.service} via {config.name} ({config.kind})"

    def readiness(self, config: ExecutorConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        assert isinstance(config, FlagFileConfig)
        reading = read_flag(config, ctx.base_dir)
        items = list(reading.items)
        if reading.failed is None:
            items.append(
                ReadinessItem(
                    item=f"{config.name}: flag {config.flag} is on now",
                    method="read its value",
                    passed=reading.on,
                    detail=reading.shown if reading.on else f"not on: {reading.shown}",
                )
            )
        folder = reading.path.parent
        items.append(
            ReadinessItem(
                item=f"{config.name}: folder of {config.path} is writable",
                method="filesystem permissions",
                passed=os.access(folder, os.W_OK | os.X_OK),
                detail=str(folder),
            )
        )
        if config.restart:
            items.append(binary_item(config.name, config.restart[0], ctx.base_dir))
        return items

    def check_state(self, config: ExecutorConfig, ctx: ExecutionContext) -> StateFound:
        assert isinstance(config, FlagFileConfig)
        reading = read_flag(config, ctx.base_dir)
        if reading.span is None:
            failed = reading.failed
            why = f"{failed.item}: {failed.detail}" if failed else "its value was not found"
            return StateFound(took_effect=None, detail=f"cannot read flag {config.flag} ({why})")
        return StateFound(
            took_effect=reading.off,
            live=_state(config, not reading.off),
            detail=f"flag {config.flag} is {'off' if reading.off else 'still on'} "
            f"in {config.path} ({reading.shown})",
        )

    def execute(self, config: ExecutorConfig, ctx: ExecutionContext) -> ExecutionResult:
        assert isinstance(config, FlagFileConfig)
        started = utcnow()
        reading = read_flag(config, ctx.base_dir)
        argv = ["flag-file", str(reading.path), config.flag, "off"]
        failed = reading.failed
        if failed is not None or reading.span is None:
            error = (
                f"{failed.item}: {failed.detail}" if failed else "the flag's value was not found"
            )
            record = _record(ctx.base_dir, argv, started, "", error)
            return ExecutionResult(status=ExecutionStatus.FAILED, commands=[record], error=error)
        if reading.off:
            note = f"{config.flag} was already off ({reading.shown}); the file was not changed\n"
            record = _record(ctx.base_dir, argv, started, note, None)
            return self._then_restart(config, ctx, [record], _state(config, False))
        before = _state(config, True)
        try:
            edit = replace_value(
                reading.raw.decode("utf-8"), reading.syntax, reading.key_path, reading.off_value
            )
            write_atomically(reading.path, edit.text.encode("utf-8"), expected=reading.raw)
        except (DocumentError, OSError) as exc:
            record = _record(ctx.base_dir, argv, started, "", str(exc))
            return ExecutionResult(
                status=ExecutionStatus.FAILED,
                commands=[record],
                release_before=before,
                release_after=before,
                error=str(exc),
            )
        after = read_flag(config, ctx.base_dir)
        out = f"{'.'.join(reading.key_path)}: {edit.old} -> {edit.new}\nnow: {after.shown}\n"
        still_on = None if after.off else f"the flag still reads on: {after.shown}"
        record = _record(ctx.base_dir, argv, started, out, still_on)
        if still_on is not None:
            return ExecutionResult(
                status=ExecutionStatus.FAILED,
                commands=[record],
                release_before=before,
                release_after=before,
                error=still_on,
            )
        return self._then_restart(config, ctx, [record], before)

    def _then_restart(
        self,
        config: FlagFileConfig,
        ctx: ExecutionContext,
        commands: list[CommandRecord],
        before: str,
    ) -> ExecutionResult:
        """Run ``restart`` (if configured) once the flag is off; its failure fails the option."""
        after = _state(config, False)
        if config.restart:
            values: dict[str, str | None] = {
                "release": ctx.target_release,
                "service": ctx.service,
                "incident_id": ctx.incident_id,
            }
            argv = render_argv(config.restart, values)
            record = run_argv(argv, timeout_s=config.restart_timeout_seconds, cwd=ctx.base_dir)
            commands.append(record)
            if not record.ok:
                return ExecutionResult(
                    status=status_of(record),
                    commands=commands,
                    release_before=before,
                    release_after=after,
                    error=f"restart failed: {record.error or f'exit code {record.exit_code}'}",
                )
        return ExecutionResult(
            status=ExecutionStatus.SUCCEEDED,
            commands=commands,
            release_before=before,
            release_after=after,
        )
