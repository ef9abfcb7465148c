"""Recipes as data: templates, option keys checked at load, and the readers of tool output."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from incident_commander.executors.base import ExecutorConfig
from incident_commander.executors.recipe_data import (
    Opt,
    Raw,
    Recipe,
    Step,
    compose_tag,
    helm_app_version,
    image_tag,
    task_definition,
    words,
)
from incident_commander.executors.recipes import RecipeConfig, RecipeExecutor
from incident_commander.plugins import EXECUTORS

PROVIDERS = {
    "kubernetes": "Kubernetes rollout undo",
    "helm": "Helm rollback",
    "docker-compose": "Docker Compose: previous image tag",
    "fly": "Fly.io: deploy the previous image",
    "vercel": "Vercel rollback",
    "heroku": "Heroku release rollback",
    "railway": "Railway redeploy",
    "aws-ecs": "AWS ECS: previous task definition",
}


def test_every_provider_registers_as_its_own_executor_plugin() -> None:
    for slug, title in PROVIDERS.items():
        executor = EXECUTORS.load(slug)
        assert issubclass(executor, RecipeExecutor)
        assert (executor.slug, executor.title) == (slug, title)
        assert executor.Config.model_fields["kind"].default == slug
    dry_runs = {slug for slug in PROVIDERS if EXECUTORS.load(slug).has_dry_run}
    assert dry_runs == {"kubernetes", "helm", "docker-compose"}
    assert EXECUTORS.load("docker-compose").requires == ("docker on PATH",)
    assert EXECUTORS.load("aws-ecs").requires == (
        "aws on PATH",
        "AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY or AWS_PROFILE set",
    )


def test_words_split_on_spaces_and_keep_raw_and_optional_parts_whole() -> None:
    context = Opt("--context", "{context}")
    raw = Raw("jsonpath={.a b}")

    assert words("kubectl get  pods", raw, context) == ("kubectl", "get", "pods", raw, context)


def test_a_recipe_naming_no_field_of_its_config_is_refused_when_defined() -> None:
    with pytest.raises(TypeError, match=r"names no field of its Config: \['cluster', 'turbo'\]"):

        class Broken(RecipeExecutor):
            slug = "broken"
            title = "Broken"
            Config: ClassVar[type[ExecutorConfig]] = RecipeConfig
            recipe = Recipe(
                steps=(
                    Step(words("tool --cluster {cluster} {release}")),
                    Step(words("tool wait"), when="turbo"),
                )
            )


def _config(slug: str, **fields: Any) -> ExecutorConfig:
    return EXECUTORS.load(slug).Config.model_validate({"name": "undo", "kind": slug, **fields})


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        ({"extra_args": ["--to={build}"]}, "extra_args", "placeholder {build}"),
        ({"revision": "{incident}"}, "revision", "placeholder {incident}"),
        ({"revision": "-1"}, "revision", "must be an identifier"),
        ({"revision": "7 --force"}, "revision", "must be an identifier"),
        ({"deployment": "web;reboot"}, "deployment", "should match pattern"),
        ({"credentials": ["KUBE CONFIG"]}, "credentials.0", "should match pattern"),
        ({"namespace": "--all"}, "namespace", "should match pattern"),
        ({"turbo": True}, "turbo", "Extra inputs are not permitted"),
    ],
)
def test_option_keys_are_checked_when_the_config_is_loaded(
    fields: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        _config("kubernetes", **{"deployment": "web", **fields})

    (error,) = raised.value.errors()
    assert ".".join(map(str, error["loc"])) == key
    assert message in str(raised.value)


def test_templated_keys_take_an_identifier_or_a_run_time_placeholder() -> None:
    assert (
        _config("aws-ecs", cluster="c", ecs_service="s", family="f").model_dump()["revision"]
        == "{release}"
    )
    assert _config("heroku", app="shop", version="{release}").model_dump()["version"] == "{release}"
    assert _config("railway").model_dump()["railway_service"] == "{service}"
    assert _config("docker-compose", env_file=".env").model_dump()["env_file"] == ".env"


@pytest.mark.parametrize(
    ("printed", "tag"),
    [
        ("registry.example/shop/web:v41", "v41"),
        ("registry:5000/shop/web:v41\n", "v41"),
        ("web:v41@sha256:abc", "v41"),
        ("registry:5000/shop/web", None),
        ("", None),
    ],
)
def test_image_tag_reads_the_tag_of_an_image_reference(printed: str, tag: str | None) -> None:
    assert image_tag(printed) == tag


def test_helm_history_gives_the_newest_app_version() -> None:
    printed = '[{"revision": 8, "app_version": "v40"}, {"revision": 9, "app_version": "v41"}]'
    assert helm_app_version(printed) == "v41"
    assert helm_app_version("[]") is None
    with pytest.raises(ValueError):
        helm_app_version("Error: release: not found")


def test_compose_images_give_the_service_tag_in_either_json_shape() -> None:
    assert compose_tag('[{"Repository": "shop/web", "Tag": "v41"}]') == "v41"
    assert compose_tag('{"repository": "shop/web", "tag": "v41"}\n{"tag": "v9"}\n') == "v41"
    assert compose_tag("[]") is None


def test_task_definition_reads_family_and_revision_of_an_arn() -> None:
    arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:41\n"
    assert task_definition(arn) == "web:41"
    assert task_definition("None\n") is None
