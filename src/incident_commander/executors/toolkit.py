"""The pieces executor recipes are made of, so a provider is a few lines of data.

- ``resolve_env``: an option's environment, with ``secret_env`` values kept as secrets;
- readiness items: ``binary_item`` (a program on PATH or a path), ``credentials_item``
  (variables set), ``placeholders_item`` (an argv resolves), ``dry_run_item`` (a dry run passes);
- ``run_steps``: argv steps one after another, stopping at the first that fails;
- ``http_call``: one HTTP request with a deadline, recorded like a command, secrets redacted;
- ``check_placeholders``: the config-time rule that a template names only known placeholders.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import httpx
from pydantic import SecretStr

from incident_commander.clock import utcnow
from incident_commander.executors.base import (
    ExecutionResult,
    ExecutionStatus,
    ReadinessItem,
    render_argv,
)
from incident_commander.process import OUTPUT_LIMIT, CommandRecord, run_argv
from incident_commander.redact import looks_secret, redact

__all__ = [
    "binary_item",
    "check_placeholders",
    "credentials_item",
    "dry_run_item",
    "http_call",
    "placeholders_item",
    "program_path",
    "render_text",
    "resolve_env",
    "result_of",
    "run_steps",
    "status_of",
]

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def check_placeholders(templates: Iterable[str], allowed: Iterable[str]) -> None:
    """Refuse a template naming a placeholder other than ``allowed`` (raised at config load)."""
    names = set(allowed)
    for template in templates:
        for name in _PLACEHOLDER.findall(template):
            if name not in names:
                known = ", ".join("{" + n + "}" for n in sorted(names)) or "none"
                raise ValueError(
                    f"placeholder {{{name}}} in {template!r} is not allowed "
                    f"(only validated identifiers can be placed: {known})"
                )


def render_text(text: str, values: Mapping[str, str | None]) -> str:
    """``render_argv`` for one string (a URL, a header, a body): identifiers only."""
    return render_argv([text], dict(values))[0]


def resolve_env(
    env: Mapping[str, str], secret_env: Mapping[str, SecretStr]
) -> tuple[dict[str, str], list[str]]:
    """The variables to add (``$VAR`` expanded) and the values to redact from the record."""
    resolved = {key: os.path.expandvars(value) for key, value in env.items()}
    secrets = [value for key, value in resolved.items() if looks_secret(key) and value]
    for key, secret in secret_env.items():
        value = os.path.expandvars(secret.get_secret_value())
        resolved[key] = value
        if value:
            secrets.append(value)
    return resolved, secrets


def program_path(program: str, base_dir: Path) -> Path | None:
    """Where ``program`` is: a path (relative to ``base_dir``) or a name found on PATH."""
    if os.sep in program:
        path = Path(program)
        return path if path.is_absolute() else base_dir / path
    found = shutil.which(program)
    return Path(found) if found else None


def binary_item(option: str, program: str, base_dir: Path) -> ReadinessItem:
    """``option: kubectl on PATH`` — found and executable."""
    path = program_path(program, base_dir)
    ok = bool(path and path.is_file() and os.access(path, os.X_OK))
    where = "exists and is executable" if os.sep in program else "on PATH"
    return ReadinessItem(
        item=f"{option}: {program} {where}",
        method="filesystem / PATH lookup",
        passed=ok,
        detail=str(path) if ok else f"{program} not found",
    )


def credentials_item(option: str, required: Iterable[str], env: Mapping[str, str]) -> ReadinessItem:
    """``option: credentials present`` — each required variable set (option env or process)."""
    names = sorted(set(required))
    missing = []
    for name in names:
        value = env.get(name, os.environ.get(name, ""))
        if not value or "$" in value:
            missing.append(name)
    shown = ", ".join(names) or "none needed"
    return ReadinessItem(
        item=f"{option}: credentials present ({shown})",
        method="environment lookup",
        passed=not missing,
        detail="all set" if not missing else f"unset: {', '.join(missing)}",
    )


def placeholders_item(
    option: str, argvs: Iterable[list[str]], values: Mapping[str, str | None]
) -> ReadinessItem:
    """``option: command arguments resolve`` — every placeholder has a safe value."""
    try:
        for argv in argvs:
            render_argv(argv, dict(values))
        ok, detail = True, "every placeholder has a safe value"
    except ValueError as exc:
        ok, detail = False, str(exc)
    return ReadinessItem(
        item=f"{option}: command arguments resolve",
        method="placeholder check",
        passed=ok,
        detail=detail,
    )


def dry_run_item(
    option: str,
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    secrets: list[str],
    timeout_s: float,
) -> ReadinessItem:
    """``option: dry run passes`` — the tool's own dry run, run now."""
    record = run_argv(argv, timeout_s=timeout_s, cwd=cwd, env=dict(env), secrets=secrets)
    return ReadinessItem(
        item=f"{option}: dry run passes",
        method=" ".join(record.argv),
        passed=record.ok,
        detail=record.error or f"exit code {record.exit_code}",
    )


def status_of(record: CommandRecord) -> ExecutionStatus:
    """Succeeded, timed out or failed, as one command tells it."""
    if record.timed_out:
        return ExecutionStatus.TIMED_OUT
    return ExecutionStatus.SUCCEEDED if record.ok else ExecutionStatus.FAILED


def run_steps(
    steps: Iterable[list[str]],
    *,
    cwd: Path,
    env: Mapping[str, str],
    secrets: list[str],
    timeout_s: float,
) -> list[CommandRecord]:
    """Run each argv in turn; stop after the first that does not succeed."""
    records: list[CommandRecord] = []
    for argv in steps:
        record = run_argv(argv, timeout_s=timeout_s, cwd=cwd, env=dict(env), secrets=secrets)
        records.append(record)
        if not record.ok:
            break
    return records


def result_of(
    records: list[CommandRecord],
    *,
    release_before: str | None = None,
    release_after: str | None = None,
) -> ExecutionResult:
    """The execution result of steps run by ``run_steps`` (the last record decides)."""
    if not records:
        return ExecutionResult(
            status=ExecutionStatus.FAILED, error="no command to run", release_before=release_before
        )
    last = records[-1]
    status = status_of(last)
    error = None
    if status != ExecutionStatus.SUCCEEDED:
        error = f"{last.argv[0]}: {last.error or f'exit code {last.exit_code}'}"
    return ExecutionResult(
        status=status,
        commands=records,
        release_before=release_before,
        release_after=release_after if status == ExecutionStatus.SUCCEEDED else release_before,
        error=error,
    )


def http_call(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    timeout_s: float,
    expect_status: Iterable[int] = (200, 201, 202, 204),
    secrets: list[str] | None = None,
) -> CommandRecord:
    """One HTTP request, recorded as a command: ``[METHOD, URL]``, exit code 0 when the answer's
    status is expected (1 otherwise), the answer's body as stdout. Headers whose name looks
    secret (and every value in ``secrets``) are redacted from the record."""
    sent = dict(headers or {})
    hidden = list(secrets or [])
    hidden += [v for k, v in sent.items() if (looks_secret(k) or k.lower() == "authorization")]
    hidden = [value for value in hidden if value]
    shown_headers = {k: redact(v, hidden) for k, v in sent.items()}
    started = utcnow()
    clock = time.monotonic()
    exit_code: int | None = None
    stdout = stderr = ""
    error = None
    timed_out = False
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            answer = client.request(method, url, headers=sent, content=body)
        expected = set(expect_status)
        exit_code = 0 if answer.status_code in expected else 1
        stdout = answer.text[:OUTPUT_LIMIT]
        stderr = f"HTTP {answer.status_code}"
        if exit_code:
            error = f"HTTP {answer.status_code}, expected {', '.join(map(str, sorted(expected)))}"
    except httpx.TimeoutException:
        timed_out = True
        error = f"no answer within {timeout_s:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    return CommandRecord(
        argv=[method.upper(), redact(url, hidden)],
        cwd=None,
        env=shown_headers,
        exit_code=exit_code,
        stdout=redact(stdout, hidden),
        stderr=redact(stderr, hidden),
        started_at=started,
        finished_at=utcnow(),
        duration_s=round(time.monotonic() - clock, 4),
        timed_out=timed_out,
        error=redact(error, hidden) if error else None,
    )
