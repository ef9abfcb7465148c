"""Provider recipes: Kubernetes, Helm, Docker Compose, Fly.io, Vercel, Heroku, Railway, AWS ECS.

Each provider is a ``Config`` (its own keys, validated when ``ic.yaml`` is loaded) and a
``Recipe`` (the exact commands, see ``recipe_data``); ``recipes.RecipeExecutor`` does the rest.
The flags each recipe uses, and where they are documented, are listed in
``docs/executors-providers.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from incident_commander.clock import utcnow
from incident_commander.executors.base import IDENTIFIER, ExecutionContext, ExecutorConfig
from incident_commander.executors.recipe_data import (
    ENV_NAME,
    NAME,
    Opt,
    Raw,
    Recipe,
    Step,
    Template,
    compose_tag,
    helm_app_version,
    image_tag,
    task_definition,
    words,
)
from incident_commander.executors.recipes import RecipeConfig, RecipeExecutor
from incident_commander.executors.toolkit import render_text
from incident_commander.process import CommandRecord

__all__ = [
    "AwsEcsExecutor",
    "DockerComposeExecutor",
    "FlyExecutor",
    "HelmExecutor",
    "HerokuExecutor",
    "KubernetesExecutor",
    "RailwayExecutor",
    "VercelExecutor",
    "pin_variable",
]

_ID = IDENTIFIER.pattern
KUBECONFIG = (("KUBECONFIG",),)


# -- Kubernetes ----------------------------------------------------------------------------


class KubernetesConfig(RecipeConfig):
    """``kubectl rollout undo`` of a Deployment, then ``kubectl rollout status``."""

    kind: str = "kubernetes"
    deployment: str = Field(pattern=_ID)
    namespace: str = Field(default="default", pattern=_ID)
    revision: Template | None = None
    context: str | None = Field(default=None, pattern=NAME)
    rollout_timeout_seconds: int = Field(default=300, gt=0)


_KUBE_CONTEXT = Opt("--context", "{context}")
_KUBE_UNDO = words("kubectl rollout undo deployment/{deployment} -n {namespace}")


class KubernetesExecutor(RecipeExecutor):
    """Undo the Deployment's last rollout (or go to ``revision``) and wait until it is out."""

    slug = "kubernetes"
    title = "Kubernetes rollout undo"
    Config: ClassVar[type[ExecutorConfig]] = KubernetesConfig
    recipe = Recipe(
        steps=(
            Step(words(*_KUBE_UNDO, Opt("--to-revision={revision}"), _KUBE_CONTEXT)),
            Step(
                words(
                    "kubectl rollout status deployment/{deployment} -n {namespace}",
                    "--timeout={rollout_timeout_seconds}s",
                    _KUBE_CONTEXT,
                )
            ),
        ),
        credentials=KUBECONFIG,
        dry_run=words(
            *_KUBE_UNDO, Opt("--to-revision={revision}"), "--dry-run=server", _KUBE_CONTEXT
        ),
        state=words(
            "kubectl get deployment/{deployment} -n {namespace} -o",
            Raw("jsonpath={.spec.template.spec.containers[0].image}"),
            _KUBE_CONTEXT,
        ),
        read_state=image_tag,
    )


# -- Helm ----------------------------------------------------------------------------------


class HelmConfig(RecipeConfig):
    """``helm rollback`` of a release, waiting for its resources to be ready."""

    kind: str = "helm"
    release_name: str = Field(pattern=_ID)
    namespace: str = Field(default="default", pattern=_ID)
    revision: Template | None = None
    kube_context: str | None = Field(default=None, pattern=NAME)


_HELM_SCOPE = ("-n", "{namespace}", Opt("--kube-context", "{kube_context}"))
_HELM_ROLLBACK = ("helm", "rollback", "{release_name}", Opt("{revision}"))


class HelmExecutor(RecipeExecutor):
    """Roll the Helm release back to its previous revision (or to ``revision``)."""

    slug = "helm"
    title = "Helm rollback"
    Config: ClassVar[type[ExecutorConfig]] = HelmConfig
    recipe = Recipe(
        steps=(Step((*_HELM_ROLLBACK, "--wait", *_HELM_SCOPE)),),
        credentials=KUBECONFIG,
        dry_run=(*_HELM_ROLLBACK, "--dry-run", *_HELM_SCOPE),
        state=words("helm history {release_name}", *_HELM_SCOPE, "--max 1 -o json"),
        read_state=helm_app_version,
    )


# -- Docker Compose ------------------------------------------------------------------------


class DockerComposeConfig(RecipeConfig):
    """Pin the previous image tag, then ``docker compose up -d`` the service."""

    kind: str = "docker-compose"
    compose_service: Template = "{service}"
    compose_file: str | None = Field(default=None, pattern=NAME)
    tag_variable: str = Field(default="IMAGE_TAG", pattern=ENV_NAME)
    env_file: str | None = Field(default=None, pattern=NAME)


_COMPOSE = ("docker", "compose", Opt("-f", "{compose_file}"))


def pin_variable(path: Path, name: str, value: str) -> str | None:
    """Set ``name=value`` in a ``.env``-style file (atomically); return the value it replaced."""
    lines = path.read_text().splitlines() if path.exists() else []
    previous = None
    kept = []
    for line in lines:
        key, sep, old = line.partition("=")
        if sep and key.strip() == name:
            previous = old.strip()
            continue
        kept.append(line)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text("\n".join([*kept, f"{name}={value}"]) + "\n")
    os.replace(temp, path)
    return previous


class DockerComposeExecutor(RecipeExecutor):
    """Run the service on the last known good tag: ``IMAGE_TAG`` (or ``tag_variable``) is set
    in the commands' environment, and written to ``env_file`` when one is configured."""

    slug = "docker-compose"
    title = "Docker Compose: previous image tag"
    Config: ClassVar[type[ExecutorConfig]] = DockerComposeConfig
    recipe = Recipe(
        steps=(Step(words(*_COMPOSE, "up -d {compose_service}")),),
        dry_run=words(*_COMPOSE, "--dry-run up -d {compose_service}"),
        state=words(*_COMPOSE, "images {compose_service} --format json"),
        read_state=compose_tag,
    )

    def command_env(self, config: RecipeConfig, ctx: ExecutionContext) -> dict[str, str]:
        assert isinstance(config, DockerComposeConfig)
        return {config.tag_variable: render_text("{release}", {"release": ctx.target_release})}

    def prepare(self, config: RecipeConfig, ctx: ExecutionContext) -> list[CommandRecord]:
        assert isinstance(config, DockerComposeConfig)
        if config.env_file is None:
            return []
        path = self._cwd(config, ctx) / config.env_file
        setting = f"{config.tag_variable}={ctx.target_release}"
        started = utcnow()
        try:
            previous = pin_variable(path, config.tag_variable, str(ctx.target_release))
            exit_code, stdout, error = (
                0,
                f"{config.tag_variable}: {previous} -> {ctx.target_release}\n",
                None,
            )
        except OSError as exc:
            exit_code, stdout, error = None, "", f"could not write {path}: {exc.strerror or exc}"
        finished = utcnow()
        return [
            CommandRecord(
                argv=["pin", setting, "in", str(path)],
                cwd=str(ctx.base_dir),
                env={},
                exit_code=exit_code,
                stdout=stdout,
                stderr="",
                started_at=started,
                finished_at=finished,
                duration_s=round((finished - started).total_seconds(), 4),
                error=error,
            )
        ]


# -- Fly.io --------------------------------------------------------------------------------


class FlyConfig(RecipeConfig):
    """``fly deploy`` of the image built for the last known good release."""

    kind: str = "fly"
    app: str = Field(pattern=_ID)
    image: str = Field(pattern=NAME)


class FlyExecutor(RecipeExecutor):
    """Deploy ``{image}:{release}`` again; flyctl has no rollback command of its own."""

    slug = "fly"
    title = "Fly.io: deploy the previous image"
    Config: ClassVar[type[ExecutorConfig]] = FlyConfig
    recipe = Recipe(
        steps=(Step(words("fly deploy --image {image}:{release} -a {app}")),),
        credentials=(("FLY_API_TOKEN",), ("FLY_ACCESS_TOKEN",)),
    )


# -- Vercel --------------------------------------------------------------------------------


class VercelConfig(RecipeConfig):
    """``vercel rollback`` of the linked project; the CLI reads ``VERCEL_TOKEN`` itself."""

    kind: str = "vercel"
    deployment: Template | None = None
    scope: str | None = Field(default=None, pattern=_ID)
    wait_seconds: int = Field(default=300, ge=0)


class VercelExecutor(RecipeExecutor):
    """Point production back at the previous deployment (or at ``deployment``)."""

    slug = "vercel"
    title = "Vercel rollback"
    Config: ClassVar[type[ExecutorConfig]] = VercelConfig
    recipe = Recipe(
        steps=(
            Step(
                words(
                    "vercel rollback",
                    Opt("{deployment}"),
                    Opt("--scope", "{scope}"),
                    "--timeout {wait_seconds}s",
                )
            ),
        ),
        credentials=(("VERCEL_TOKEN",),),
    )


# -- Heroku --------------------------------------------------------------------------------


class HerokuConfig(RecipeConfig):
    """``heroku releases:rollback``; the CLI reads ``HEROKU_API_KEY`` itself."""

    kind: str = "heroku"
    app: str = Field(pattern=_ID)
    version: Template | None = None


class HerokuExecutor(RecipeExecutor):
    """Roll the app back one release, or to release ``v{version}``."""

    slug = "heroku"
    title = "Heroku release rollback"
    Config: ClassVar[type[ExecutorConfig]] = HerokuConfig
    recipe = Recipe(
        steps=(Step(("heroku", "releases:rollback", Opt("v{version}"), "-a", "{app}")),),
        credentials=(("HEROKU_API_KEY",),),
    )


# -- Railway -------------------------------------------------------------------------------


class RailwayConfig(RecipeConfig):
    """``railway redeploy`` of the service (after ``railway down`` when ``remove_latest``)."""

    kind: str = "railway"
    railway_service: Template = "{service}"
    environment: str | None = Field(default=None, pattern=_ID)
    remove_latest: bool = False


_RAILWAY_TARGET = ("--service", "{railway_service}", Opt("--environment", "{environment}"), "-y")


class RailwayExecutor(RecipeExecutor):
    """Remove the latest deployment if asked, then redeploy the service's newest one left."""

    slug = "railway"
    title = "Railway redeploy"
    Config: ClassVar[type[ExecutorConfig]] = RailwayConfig
    recipe = Recipe(
        steps=(
            Step(words("railway down", *_RAILWAY_TARGET), when="remove_latest"),
            Step(words("railway redeploy", *_RAILWAY_TARGET)),
        ),
        credentials=(("RAILWAY_TOKEN",), ("RAILWAY_API_TOKEN",)),
    )


# -- AWS ECS -------------------------------------------------------------------------------


class AwsEcsConfig(RecipeConfig):
    """Point an ECS service at an earlier task definition revision, then wait until stable."""

    kind: str = "aws-ecs"
    cluster: str = Field(pattern=_ID)
    ecs_service: str = Field(pattern=_ID)
    family: str = Field(pattern=_ID)
    revision: Template = "{release}"
    region: str | None = Field(default=None, pattern=_ID)
    wait: bool = True


_REGION = Opt("--region", "{region}")


class AwsEcsExecutor(RecipeExecutor):
    """``update-service --task-definition {family}:{revision}``, then ``wait services-stable``."""

    slug = "aws-ecs"
    title = "AWS ECS: previous task definition"
    Config: ClassVar[type[ExecutorConfig]] = AwsEcsConfig
    recipe = Recipe(
        steps=(
            Step(
                words(
                    "aws ecs update-service --cluster {cluster} --service {ecs_service}",
                    "--task-definition {family}:{revision}",
                    _REGION,
                )
            ),
            Step(
                words(
                    "aws ecs wait services-stable --cluster {cluster} --services {ecs_service}",
                    _REGION,
                ),
                when="wait",
            ),
        ),
        credentials=(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), ("AWS_PROFILE",)),
        state=words(
            "aws ecs describe-services --cluster {cluster} --services {ecs_service}",
            "--query services[0].taskDefinition --output text",
            _REGION,
        ),
        read_state=task_definition,
        expect="{family}:{revision}",
    )
