"""One engine for every provider recipe: readiness, execution and the state check.

``RecipeExecutor`` runs any ``Recipe`` (see ``recipe_data``) with the toolkit: the tool on
PATH, the arguments resolve, the credentials present, the tool's own dry run; then the steps in
order, stopping at the first that fails; and the state check, when the tool can report what is
live. A provider subclass is a ``Config`` and a ``Recipe`` (``providers.py``); two hooks cover
what argv cannot say: ``command_env`` and ``prepare``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, SecretStr, field_validator

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
from incident_commander.executors.recipe_data import (
    ENV_NAME,
    NAME,
    PLACEHOLDER,
    RUNTIME,
    Argv,
    Opt,
    Raw,
    Recipe,
    last_line,
)
from incident_commander.executors.toolkit import (
    binary_item,
    check_placeholders,
    credentials_item,
    program_path,
    resolve_env,
    result_of,
    run_steps,
)
from incident_commander.process import CommandRecord, run_argv
from incident_commander.redact import looks_secret

__all__ = ["RecipeConfig", "RecipeExecutor"]


class RecipeConfig(ExecutorConfig):
    """Keys every provider option has beside its own (see ``docs/executors-providers.md``)."""

    binary: str | None = Field(default=None, pattern=NAME)
    timeout_seconds: float = Field(default=600, gt=0)
    state_timeout_seconds: float = Field(default=30, gt=0)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: dict[str, SecretStr] = Field(default_factory=dict)
    credentials: list[Annotated[str, Field(pattern=ENV_NAME)]] | None = None
    extra_args: list[str] = Field(default_factory=list)
    dry_run: bool = True

    @field_validator("extra_args")
    @classmethod
    def _known_placeholders(cls, value: list[str]) -> list[str]:
        check_placeholders(value, RUNTIME)
        return value


def _unset(value: object) -> bool:
    return value is None or value == "" or value is False


class RecipeExecutor(Executor):
    """Readiness, execution and the state check of any ``Recipe``; subclasses are data.

    Hooks for what a recipe cannot say as argv: ``command_env`` (variables the commands get)
    and ``prepare`` (work done before the first command, recorded like one).
    """

    recipe: ClassVar[Recipe]
    Config: ClassVar[type[ExecutorConfig]] = RecipeConfig

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        recipe = cls.__dict__.get("recipe")
        if recipe is None:
            return
        fields = set(cls.Config.model_fields)
        unknown = sorted(recipe.placeholders() - fields - set(RUNTIME))
        unknown += [s.when for s in recipe.steps if s.when and s.when not in fields]
        if all(step.when for step in recipe.steps):
            raise TypeError(f"{cls.__name__}: the recipe needs a step that always runs")
        if unknown:
            raise TypeError(f"{cls.__name__}: the recipe names no field of its Config: {unknown}")
        cls.has_dry_run = recipe.dry_run is not None
        needs = [" or ".join(" + ".join(names) for names in recipe.credentials)]
        cls.requires = (f"{recipe.program} on PATH", *(f"{n} set" for n in needs if n))

    # -- rendering -------------------------------------------------------------------------

    def _config(self, config: ExecutorConfig) -> RecipeConfig:
        if not isinstance(config, self.Config) or not isinstance(config, RecipeConfig):
            raise TypeError(f"{self.slug} takes a {self.Config.__name__}, not {type(config)}")
        return config

    @staticmethod
    def _runtime(ctx: ExecutionContext) -> dict[str, str | None]:
        return {
            "release": ctx.target_release,
            "service": ctx.service,
            "incident_id": ctx.incident_id,
        }

    def _fill(self, arg: str, config: RecipeConfig, ctx: ExecutionContext) -> str:
        """Option fields first (validated at load), then the run-time identifiers."""
        if isinstance(arg, Raw):
            return str(arg)
        for name in PLACEHOLDER.findall(arg):
            if name in RUNTIME:
                continue
            value = getattr(config, name)
            if _unset(value):
                raise ValueError(f"placeholder {{{name}}} needs the option's {name!r} set")
            arg = arg.replace("{" + name + "}", str(value))
        return render_argv([arg], self._runtime(ctx))[0]

    def _render(
        self, argv: Argv, config: RecipeConfig, ctx: ExecutionContext, *, extra: bool = False
    ) -> list[str]:
        """One command as an argv list; ``extra`` appends the option's ``extra_args``."""
        rendered: list[str] = []
        for part in argv:
            if isinstance(part, Opt):
                names = {n for a in part.args for n in PLACEHOLDER.findall(a)} - set(RUNTIME)
                if any(_unset(getattr(config, n)) for n in names):
                    continue
                rendered += [self._fill(arg, config, ctx) for arg in part.args]
            else:
                rendered.append(self._fill(part, config, ctx))
        if extra:
            rendered += render_argv(list(config.extra_args), self._runtime(ctx))
        rendered[0] = self._program(config, ctx.base_dir)
        return rendered

    def _program(self, config: RecipeConfig, base_dir: Path) -> str:
        program = config.binary or self.recipe.program
        path = program_path(program, base_dir) if os.sep in program else None
        return str(path) if path is not None else program

    def _commands(self, config: RecipeConfig, ctx: ExecutionContext) -> list[list[str]]:
        """The steps turned on; ``extra_args`` go to the main one, the first always run."""
        main = next(s for s in self.recipe.steps if s.when is None)
        steps = [s for s in self.recipe.steps if s.when is None or getattr(config, s.when)]
        return [self._render(s.argv, config, ctx, extra=s is main) for s in steps]

    def _expected(self, config: RecipeConfig, ctx: ExecutionContext) -> str | None:
        """What the state check shows once the rollback took effect (``None``: unknown)."""
        try:
            return self._fill(self.recipe.expect, config, ctx)
        except ValueError:
            return None

    def _cwd(self, config: RecipeConfig, ctx: ExecutionContext) -> Path:
        return ctx.base_dir / config.cwd if config.cwd else ctx.base_dir

    # -- environment -----------------------------------------------------------------------

    def command_env(self, config: RecipeConfig, ctx: ExecutionContext) -> dict[str, str]:
        """Variables this recipe adds to every command (beside the option's ``env``)."""
        return {}

    def _credential_sets(self, config: RecipeConfig) -> list[tuple[str, ...]]:
        if config.credentials is not None:
            return [tuple(config.credentials)]
        return list(self.recipe.credentials) or [()]

    def _env(self, config: RecipeConfig, ctx: ExecutionContext) -> tuple[dict[str, str], list[str]]:
        """The variables to add, and the values to redact: secret-looking credentials too,
        whether the option sets them or the environment of ``ic`` holds them."""
        env, secrets = resolve_env(config.env, config.secret_env)
        env.update(self.command_env(config, ctx))
        for name in {n for names in self._credential_sets(config) for n in names}:
            value = env.get(name) or os.environ.get(name, "")
            if value and looks_secret(name):
                secrets.append(value)
        return env, secrets

    # -- the executor ----------------------------------------------------------------------

    def _credentials_item(self, config: RecipeConfig, env: dict[str, str]) -> ReadinessItem:
        sets = self._credential_sets(config)
        checked = [credentials_item(config.name, names, env) for names in sets]
        passing = [item for item in checked if item.passed]
        if passing or len(checked) == 1:
            return (passing or checked)[0]
        return ReadinessItem(
            item=f"{config.name}: credentials present ({' or '.join(', '.join(s) for s in sets)})",
            method="environment lookup",
            passed=False,
            detail="; or ".join(item.detail for item in checked),
        )

    def readiness(self, config: ExecutorConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        cfg = self._config(config)
        items = [binary_item(cfg.name, cfg.binary or self.recipe.program, ctx.base_dir)]
        env: dict[str, str] = {}
        secrets: list[str] = []
        dry_run: list[str] | None = None
        try:
            env, secrets = self._env(cfg, ctx)
            self._commands(cfg, ctx)
            if self.recipe.dry_run is not None and cfg.dry_run:
                dry_run = self._render(self.recipe.dry_run, cfg, ctx, extra=True)
            ok, detail = True, "every placeholder has a safe value"
        except ValueError as exc:
            ok, detail = False, str(exc)
        items.append(
            ReadinessItem(
                item=f"{cfg.name}: command arguments resolve",
                method="placeholder check",
                passed=ok,
                detail=detail,
            )
        )
        items.append(self._credentials_item(cfg, env))
        items += self.extra_items(cfg, ctx)
        if dry_run is not None and all(item.passed for item in items):
            items.append(self._dry_run_item(cfg, dry_run, ctx, env, secrets))
        return items

    def _dry_run_item(
        self,
        config: RecipeConfig,
        argv: list[str],
        ctx: ExecutionContext,
        env: dict[str, str],
        secrets: list[str],
    ) -> ReadinessItem:
        """The tool's own dry run, run now; a failure says what the tool said."""
        record = run_argv(
            argv,
            timeout_s=config.timeout_seconds,
            cwd=self._cwd(config, ctx),
            env=env,
            secrets=secrets,
        )
        found = record.error or f"exit code {record.exit_code}"
        said = None if record.ok else last_line(record.stderr) or last_line(record.stdout)
        return ReadinessItem(
            item=f"{config.name}: dry run passes",
            method=" ".join(record.argv),
            passed=record.ok,
            detail=f"{found}: {said}" if said else found,
        )

    def extra_items(self, config: RecipeConfig, ctx: ExecutionContext) -> list[ReadinessItem]:
        """Prerequisites of this recipe beyond tool, arguments and credentials."""
        return []

    def prepare(self, config: RecipeConfig, ctx: ExecutionContext) -> list[CommandRecord]:
        """Work before the first command (pinning a tag in a file), recorded like commands."""
        return []

    def execute(self, config: ExecutorConfig, ctx: ExecutionContext) -> ExecutionResult:
        cfg = self._config(config)
        try:
            env, secrets = self._env(cfg, ctx)
            commands = self._commands(cfg, ctx)
        except ValueError as exc:
            return ExecutionResult(status=ExecutionStatus.FAILED, error=f"{cfg.name}: {exc}")
        records = self.prepare(cfg, ctx)
        if all(record.ok for record in records):
            records += run_steps(
                commands,
                cwd=self._cwd(cfg, ctx),
                env=env,
                secrets=secrets,
                timeout_s=cfg.timeout_seconds,
            )
        return result_of(records, release_after=self._expected(cfg, ctx) or ctx.target_release)

    def current_release(self, config: ExecutorConfig, ctx: ExecutionContext) -> str | None:
        """What the recipe's state check reports as live (``None``: no check, or no answer)."""
        cfg = self._config(config)
        if self.recipe.state is None:
            return None
        try:
            argv = self._render(self.recipe.state, cfg, ctx)
            env, secrets = self._env(cfg, ctx)
        except ValueError:
            return None
        record = run_argv(
            argv,
            timeout_s=cfg.state_timeout_seconds,
            cwd=self._cwd(cfg, ctx),
            env=env,
            secrets=secrets,
        )
        if not record.ok:
            return None
        try:
            return self.recipe.read_state(record.stdout)
        except ValueError:  # output that is not what the tool prints (bad JSON, ...)
            return None

    def check_state(self, config: ExecutorConfig, ctx: ExecutionContext) -> StateFound:
        cfg = self._config(config)
        if self.recipe.state is None:
            return StateFound(
                took_effect=None,
                detail=f"{self.slug} cannot report what is live, so it cannot tell whether "
                f"{cfg.name} took effect",
            )
        expected = self._expected(cfg, ctx)
        live = self.current_release(cfg, ctx)
        if live is None or expected is None:
            return StateFound(
                took_effect=None,
                live=live,
                detail=f"the state check of {cfg.name} gave no answer to compare",
            )
        if live == expected:
            return StateFound(took_effect=True, live=live, detail=f"{live} is live, the target")
        return StateFound(
            took_effect=False, live=live, detail=f"{live} is live, not the target {expected}"
        )
