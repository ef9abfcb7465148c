"""Checks out the last known good ref of a git work tree (detached HEAD), then restarts.

The ref comes from the deploy records (the last known good release, say the tag ``v1``) unless
the option names a fixed ``ref``. Either way it must be a plain ref name (``GIT_REF`` below):
nothing that could read as an option or a revision expression ever reaches git's argv. The ref
is resolved to its commit once (``git rev-parse --verify``), and that commit is what is checked
out, so the commit verified is the commit made live, even if the ref moves meanwhile.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator

from incident_commander.executors.base import (
    IDENTIFIER,
    ExecutionContext,
    ExecutionResult,
    ExecutionStatus,
    Executor,
    ExecutorConfig,
    ReadinessItem,
    StateFound,
    render_argv,
)
from incident_commander.executors.toolkit import (
    binary_item,
    check_placeholders,
    placeholders_item,
    program_path,
    status_of,
)
from incident_commander.process import CommandRecord, run_argv

__all__ = ["GitCheckoutConfig", "GitCheckoutExecutor", "ref_problem"]

# Added to git's environment: never prompt, take no optional lock while only looking (a status
# run by readiness must not race the service's own git use), and speak plain English.
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
RESTART_PLACEHOLDERS = ("release", "service", "incident_id")
_SHOWN_CHANGES = 5


def ref_problem(ref: str) -> str | None:
    """Why ``ref`` may not be checked out, or ``None`` when it is a plain ref name.

    A plain ref name is an identifier (letters, digits, ``.``, ``_``, ``-``, starting with a
    letter or digit: so never an option) that git would also accept as a ref name (no ``..``,
    not ending in ``.`` or ``.lock``). Full commit ids pass; ``HEAD~1`` or ``v1^`` do not.
    """
    if not IDENTIFIER.match(ref):
        return (
            f"ref {ref!r} is not a plain ref name (letters, digits, '.', '_' and '-', "
            "starting with a letter or digit)"
        )
    if ".." in ref or ref.endswith((".", ".lock")):
        return f"ref {ref!r} is not a valid git ref name"
    return None


class GitCheckoutConfig(ExecutorConfig):
    """``work_tree`` is a folder (relative to ic.yaml) that is the top of a git work tree."""

    kind: str = "git"
    work_tree: str = Field(min_length=1)
    ref: str | None = None
    git: str = "git"
    git_timeout_seconds: float = Field(default=60, gt=0)
    restart: list[str] = Field(default_factory=list)
    restart_timeout_seconds: float = Field(default=60, gt=0)
    expected_minutes: float = 1

    @field_validator("ref")
    @classmethod
    def _plain_ref(cls, ref: str | None) -> str | None:
        problem = ref_problem(ref) if ref is not None else None
        if problem:
            raise ValueError(problem)
        return ref

    @field_validator("restart")
    @classmethod
    def _known_placeholders(cls, restart: list[str]) -> list[str]:
        check_placeholders(restart, RESTART_PLACEHOLDERS)
        return restart


@dataclass(frozen=True)
class HeadState:
    """The work tree's HEAD as the state check sees it, beside the target ref's commit."""

    head: str
    name: str
    target: str | None
    target_commit: str | None


def _why(record: CommandRecord) -> str:
    """What went wrong with a command, in one line: its error or exit code, and what it said."""
    lines = (record.stderr or record.stdout).strip().splitlines()
    said = f": {lines[0]}" if lines else ""
    return (record.error or f"exit code {record.exit_code}") + said


class GitCheckoutExecutor(Executor):
    """``git checkout --detach`` the last known good ref in a clean work tree, then restart."""

    slug = "git"
    title = "Check out a git ref"
    Config: ClassVar[type[ExecutorConfig]] = GitCheckoutConfig
    requires = ("git on PATH", "a clean git work tree holding the target ref")

    @staticmethod
    def _tree(config: GitCheckoutConfig, ctx: ExecutionContext) -> Path:
        return ctx.base_dir / config.work_tree

    @staticmethod
    def _target(config: GitCheckoutConfig, ctx: ExecutionContext) -> tuple[str | None, str]:
        """The ref to check out, or ``None`` and why not."""
        ref = config.ref or ctx.target_release
        if ref is None:
            return None, "no last known good release identified"
        problem = ref_problem(ref)
        return (None, problem) if problem else (ref, ref)

    def _git(self, config: GitCheckoutConfig, ctx: ExecutionContext, *args: str) -> CommandRecord:
        """Run git in the work tree (a ``git`` given as a path is relative to ic.yaml)."""
        program = program_path(config.git, ctx.base_dir) if os.sep in config.git else None
        argv = [str(program) if program else config.git, *args]
        return run_argv(
            argv, timeout_s=config.git_timeout_seconds, cwd=self._tree(config, ctx), env=GIT_ENV
        )

    def _commit(self, config: GitCheckoutConfig, ctx: ExecutionContext, ref: str) -> CommandRecord:
        """``git rev-parse --verify REF^{commit}``: the commit ``ref`` names, if any."""
        return self._git(config, ctx, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")

    # -- what is live ---------------------------------------------------------------------

    def head_state(self, config: ExecutorConfig, ctx: ExecutionContext) -> HeadState | str:
        """HEAD's commit and name (the target ref, else an exact tag, else a short id), and
        the target's commit; or why git could not tell."""
        assert isinstance(config, GitCheckoutConfig)
        tree = self._tree(config, ctx)
        if not tree.is_dir():
            return f"no folder {tree}"
        head = self._git(config, ctx, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        if not head.ok:
            return f"git cannot read HEAD in {tree}: {_why(head)}"
        commit = head.stdout.strip()
        ref, _ = self._target(config, ctx)
        target_commit = None
        if ref is not None:
            found = self._commit(config, ctx, ref)
            target_commit = found.stdout.strip() if found.ok else None
        if ref is not None and commit == target_commit:
            return HeadState(commit, ref, ref, target_commit)
        tag = self._git(config, ctx, "describe", "--tags", "--exact-match", "HEAD")
        name = tag.stdout.strip() if tag.ok and tag.stdout.strip() else commit[:12]
        return HeadState(commit, name, ref, target_commit)

    def current_release(self, config: ExecutorConfig, ctx: ExecutionContext) -> str | None:
        found = self.head_state(config, ctx)
        return found.name if isinstance(found, HeadState) else None

    def check_state(self, config: ExecutorConfig, ctx: ExecutionContext) -> StateFound:
        """Took effect when HEAD is the target ref's commit."""
        found = self.head_state(config, ctx)
        if not isinstance(found, HeadState):
            return StateFound(took_effect=None, detail=found)
        if found.target is None or found.target_commit is None:
            return StateFound(
                took_effect=None,
                live=found.name,
                detail=f"HEAD is {found.name}; the target ref cannot be resolved",
            )
        if found.head == found.target_commit:
            return StateFound(
                took_effect=True,
                live=found.name,
                detail=f"HEAD is {found.target} ({found.head[:12]}), the target",
            )
        return StateFound(
            took_effect=False,
            live=found.name,
            detail=(
                f"HEAD is {found.name} ({found.head[:12]}), not the target {found.target} "
                f"({found.target_commit[:12]})"
            ),
        )

    # -- readiness ------------------------------------------------------------------------

    def _tree_item(self, config: GitCheckoutConfig, ctx: ExecutionContext) -> ReadinessItem:
        tree = self._tree(config, ctx)
        item = f"{config.name}: {config.work_tree} is a git work tree"
        method = "git rev-parse --show-toplevel"
        if not tree.is_dir():
            return ReadinessItem(item=item, method=method, passed=False, detail=f"no folder {tree}")
        top = self._git(config, ctx, "rev-parse", "--show-toplevel")
        if not top.ok:
            return ReadinessItem(item=item, method=method, passed=False, detail=_why(top))
        found = Path(top.stdout.strip())
        if found.resolve() != tree.resolve():
            detail = (
                f"{tree} lies inside the work tree of {found}, not at its top: "
                "a checkout would move that whole repository"
            )
            return ReadinessItem(item=item, method=method, passed=False, detail=detail)
        return ReadinessItem(item=item, method=method, passed=True, detail=str(found))

    def _clean_item(self, config: GitCheckoutConfig, ctx: ExecutionContext) -> ReadinessItem:
        status = self._git(config, ctx, "status", "--porcelain")
        changes = status.stdout.splitlines()
        if not status.ok:
            detail = _why(status)
        elif changes:
            shown = "; ".join(line.strip() for line in changes[:_SHOWN_CHANGES])
            hidden = len(changes) - _SHOWN_CHANGES
            more = f" and {hidden} more" if hidden > 0 else ""
            detail = f"{len(changes)} local change(s): {shown}{more}"
        else:
            detail = "no local changes"
        return ReadinessItem(
            item=f"{config.name}: work tree is clean",
            method="git status --porcelain",
            passed=status.ok and not changes,
            detail=detail,
        )

    def _ref_item(self, config: GitCheckoutConfig, ctx: ExecutionContext) -> ReadinessItem:
        ref, why = self._target(config, ctx)
        method = "git rev-parse --verify REF^{commit}"
        if ref is None:
            item = f"{config.name}: ref to check out is a known commit"
            return ReadinessItem(item=item, method=method, passed=False, detail=why)
        found = self._commit(config, ctx, ref)
        item = f"{config.name}: ref {ref} exists"
        if found.ok:
            detail = f"commit {found.stdout.strip()[:12]}"
        elif found.exit_code == 1 and not found.error:
            detail = f"no commit named {ref} in {config.work_tree}"
        else:
            detail = _why(found)
        return ReadinessItem(item=item, method=method, passed=found.ok, detail=detail)

    def _restart_values(
        self, config: GitCheckoutConfig, ctx: ExecutionContext
    ) -> dict[str, str | None]:
        ref, _ = self._target(config, ctx)
        return {"release": ref, "service": ctx.service, "incident_id": ctx.incident_id}

    def readiness(self, config: ExecutorConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        assert isinstance(config, GitCheckoutConfig)
        git = binary_item(config.name, config.git, ctx.base_dir)
        items = [git]
        if git.passed:
            items.append(self._tree_item(config, ctx))
            if items[-1].passed:
                items += [self._clean_item(config, ctx), self._ref_item(config, ctx)]
        if config.restart:
            items.append(binary_item(config.name, config.restart[0], ctx.base_dir))
            values = self._restart_values(config, ctx)
            items.append(placeholders_item(config.name, [config.restart], values))
        return items

    # -- execution ------------------------------------------------------------------------

    def execute(self, config: ExecutorConfig, ctx: ExecutionContext) -> ExecutionResult:
        assert isinstance(config, GitCheckoutConfig)
        tree = self._tree(config, ctx)
        before = self.current_release(config, ctx)
        commands: list[CommandRecord] = []

        def failed(error: str, record: CommandRecord | None = None) -> ExecutionResult:
            status = status_of(record) if record is not None else ExecutionStatus.FAILED
            if status == ExecutionStatus.SUCCEEDED:  # the command ran, but its answer is a no
                status = ExecutionStatus.FAILED
            return ExecutionResult(
                status=status,
                commands=commands,
                release_before=before,
                release_after=self.current_release(config, ctx),
                error=error,
            )

        ref, why = self._target(config, ctx)
        if ref is None:
            return failed(why)
        if not tree.is_dir():
            return failed(f"no folder {tree}")
        status = self._git(config, ctx, "status", "--porcelain")
        commands.append(status)
        if not status.ok:
            return failed(f"git status: {_why(status)}", status)
        if status.stdout.strip():
            count = len(status.stdout.splitlines())
            return failed(f"the work tree has {count} local change(s); nothing was checked out")
        resolved = self._commit(config, ctx, ref)
        commands.append(resolved)
        if not resolved.ok:
            return failed(f"no commit named {ref} in {config.work_tree}", resolved)
        commit = resolved.stdout.strip()
        checkout = self._git(
            config, ctx, "-c", "advice.detachedHead=false", "checkout", "--detach", commit
        )
        commands.append(checkout)
        if not checkout.ok:
            return failed(f"git checkout: {_why(checkout)}", checkout)
        after = self.current_release(config, ctx)
        if config.restart:
            argv = render_argv(config.restart, self._restart_values(config, ctx))
            program = program_path(argv[0], ctx.base_dir)
            if program is not None and os.sep in argv[0]:
                argv = [str(program), *argv[1:]]
            record = run_argv(argv, timeout_s=config.restart_timeout_seconds, cwd=ctx.base_dir)
            commands.append(record)
            if not record.ok:
                return failed(f"restart failed: {_why(record)}", record)
        return ExecutionResult(
            status=ExecutionStatus.SUCCEEDED,
            commands=commands,
            release_before=before,
            release_after=after,
        )
