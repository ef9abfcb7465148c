"""Diagnostics: the first-five-minutes commands and pages of a service, run at once, each
bounded by its own deadline and byte limit, and the diff of the suspect deploy when the service
is deployed from a git work tree. Nothing here touches the store."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from incident_commander.clock import utcnow
from incident_commander.config import ServiceConfig, Settings
from incident_commander.config_evidence import Diagnostic
from incident_commander.evidence.inputs import Gathered, fetch_url, run_command, secrets_of
from incident_commander.executors.base import IDENTIFIER, render_argv

__all__ = ["DeployRange", "GitTree", "diagnostic_jobs", "gather", "git_tree"]

Job = Callable[[], Gathered]
_GIT_TIMEOUT_S = 20
_HEX = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class GitTree:
    """A service's git deploy directory, as one of its rollback options names it."""

    option: str
    path: Path
    git: str


@dataclass(frozen=True)
class DeployRange:
    """The last known good deploy and the suspect one, as refs git can read."""

    old: str
    new: str


def git_tree(settings: Settings, service: ServiceConfig) -> GitTree | None:
    """The work tree of the service's first option that has one (a ``git`` option)."""
    for option in service.rollback_options:
        tree = getattr(option, "work_tree", None)
        if isinstance(tree, str) and tree:
            git = getattr(option, "git", "git")
            return GitTree(option.name, settings.resolve_path(tree), str(git or "git"))
    return None


def _plain_ref(ref: str | None) -> bool:
    """A ref that can only read as a ref: an identifier, no range, no option."""
    return bool(ref and IDENTIFIER.match(ref) and ".." not in ref and not ref.endswith(".lock"))


def deploy_ref(commit: str | None, version: str) -> str | None:
    """What names a deploy in git: its commit when it looks like one, else its version."""
    if commit and _HEX.match(commit):
        return commit
    return version if _plain_ref(version) else None


def _diagnostic(
    diag: Diagnostic, settings: Settings, values: dict[str, str | None], secrets: list[str]
) -> Gathered:
    at = utcnow()
    timed_out = False
    if diag.url is not None:
        code, data, clipped = fetch_url(
            diag.url, timeout_s=diag.timeout_seconds, max_bytes=diag.max_bytes, secrets=secrets
        )
        source = f"diagnostic {diag.name}: GET {diag.url}"
    else:
        try:
            argv = render_argv(list(diag.argv or []), values)
        except ValueError as exc:  # a placeholder without a safe value: say so, run nothing
            return Gathered(
                name=f"diagnostic-{diag.name}.log",
                data=f"# not run: {exc}\n".encode(),
                source=f"diagnostic {diag.name}: {' '.join(diag.argv or [])}",
                level=diag.level,
                kind="diagnostic",
                at=at,
            )
        cwd = settings.resolve_path(diag.cwd) if diag.cwd else settings.base_dir
        record, data, clipped = run_command(
            argv, timeout_s=diag.timeout_seconds, max_bytes=diag.max_bytes, secrets=secrets, cwd=cwd
        )
        code, timed_out = record.exit_code, record.timed_out
        source = f"diagnostic {diag.name}: {' '.join(record.argv)}"
    return Gathered(
        name=f"diagnostic-{diag.name}.log",
        data=data,
        source=source,
        level=diag.level,
        kind="diagnostic",
        at=at,
        exit_code=code,
        clipped=clipped,
        timed_out=timed_out,
    )


def _deploy_diff(tree: GitTree, span: DeployRange, secrets: list[str]) -> Gathered:
    at = utcnow()
    argv = [
        tree.git,
        "-C",
        str(tree.path),
        "--no-pager",
        "diff",
        "--stat",
        f"{span.old}..{span.new}",
    ]
    record, data, clipped = run_command(
        argv, timeout_s=_GIT_TIMEOUT_S, max_bytes=256 * 1024, secrets=secrets, cwd=None
    )
    return Gathered(
        name=f"deploy-diff-{span.old}..{span.new}.txt".replace("..", "_to_"),
        data=data,
        source=f"deploy diff {span.old}..{span.new} in {tree.path} (option {tree.option})",
        level="artifacts",
        kind="deploy-diff",
        at=at,
        exit_code=record.exit_code,
        clipped=clipped,
        timed_out=record.timed_out,
    )


def diagnostic_jobs(
    settings: Settings, service_name: str, incident_id: str, span: DeployRange | None
) -> list[Job]:
    """What to gather for an incident of ``service_name``: its diagnostics, then the diff."""
    service = settings.services.get(service_name)
    if service is None:
        return []
    secrets = secrets_of(settings)
    values: dict[str, str | None] = {"service": service_name, "incident_id": incident_id}
    jobs: list[Job] = [
        lambda d=diag: _diagnostic(d, settings, values, secrets)  # type: ignore[misc]
        for diag in service.diagnostics
    ]
    tree = git_tree(settings, service)
    if tree is not None and span is not None:
        jobs.append(lambda: _deploy_diff(tree, span, secrets))
    return jobs


def gather(jobs: list[Job]) -> list[Gathered]:
    """Run every job at once; results in the jobs' order. Each job bounds its own time."""
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(jobs)), thread_name_prefix="ic-diag") as pool:
        return list(pool.map(lambda job: job(), jobs))
