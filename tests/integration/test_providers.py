"""Provider recipes against recording stand-ins of their tools (kubectl, helm, docker, fly, ...).

None of the real tools can run here: a stand-in is a small Python script on PATH, named like
the tool, that appends its argv and selected variables to ``calls.jsonl`` and answers as each
test tells it (output, exit code, a pause). So these tests prove the exact commands, their
order, readiness, evidence and redaction; not that the real tools accept them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from incident_commander.executors.base import ExecutionContext, ExecutionStatus, Executor
from incident_commander.executors.recipes import RecipeConfig
from incident_commander.plugins import EXECUTORS
from tests.conftest import assert_clean_error, ic_path, run_ic
from tests.integration.test_rollback_failures import _stop_leftovers
from tests.waiting import until
from tests.workspace import Workspace, script_option

STANDIN = """#!{python}
import json, os, string, sys, time
here = os.path.dirname(os.path.abspath(__file__))
name, args = os.path.basename(sys.argv[0]), sys.argv[1:]
with open(os.path.join(here, "rules.json")) as handle:
    rules = json.load(handle)
seen = {{k: os.environ[k] for k in rules["record_env"] if k in os.environ}}
with open(os.path.join(here, "calls.jsonl"), "a") as handle:
    handle.write(json.dumps({{"argv": [name, *args], "env": seen}}) + "\\n")
rule = next((r for r in rules.get(name, []) if all(w in args for w in r.get("when", []))), {{}})
sys.stdout.write(string.Template(rule.get("stdout", "")).safe_substitute(os.environ))
sys.stderr.write(string.Template(rule.get("stderr", "")).safe_substitute(os.environ))
sys.stdout.flush()
time.sleep(rule.get("sleep", 0))
sys.exit(rule.get("exit", 0))
"""
KUBE_ENV = {"KUBECONFIG": "/etc/kube.yaml"}
JSONPATH = "{.spec.template.spec.containers[0].image}"
CREDENTIALS = (
    "KUBECONFIG",
    "FLY_API_TOKEN",
    "FLY_ACCESS_TOKEN",
    "VERCEL_TOKEN",
    "HEROKU_API_KEY",
    "RAILWAY_TOKEN",
    "RAILWAY_API_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_PROFILE",
)


class StandIns:
    """A bin folder of recording stand-ins; ``tool(name, *rules)`` adds one."""

    def __init__(self, folder: Path) -> None:
        self.bin = folder
        folder.mkdir()
        self.rules: dict[str, Any] = {"record_env": ["IMAGE_TAG", *CREDENTIALS]}
        self._save()

    def _save(self) -> None:
        (self.bin / "rules.json").write_text(json.dumps(self.rules))

    def tool(self, name: str, *rules: dict[str, Any]) -> None:
        """A stand-in ``name``: the first rule whose ``when`` words are all in argv answers."""
        path = self.bin / name
        path.write_text(STANDIN.format(python=sys.executable))
        path.chmod(0o755)
        self.rules[name] = list(rules)
        self._save()

    def calls(self) -> list[dict[str, Any]]:
        log = self.bin / "calls.jsonl"
        lines = log.read_text().split("\n")[:-1] if log.exists() else []  # whole lines only
        return [json.loads(line) for line in lines]

    def argvs(self) -> list[list[str]]:
        return [call["argv"] for call in self.calls()]

    @property
    def path(self) -> str:
        return f"{self.bin}{os.pathsep}/usr/bin{os.pathsep}/bin"


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIns]:
    """Stand-ins first on PATH (and no real tool after them); no provider credentials set."""
    found = StandIns(tmp_path / "bin")
    monkeypatch.setenv("PATH", found.path)
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    yield found


def _option(slug: str, **config: Any) -> tuple[Executor, RecipeConfig]:
    executor = EXECUTORS.load(slug)()
    parsed = executor.Config.model_validate({"name": "undo", "kind": slug, **config})
    assert isinstance(parsed, RecipeConfig)
    return executor, parsed


def _ctx(base: Path, release: str | None = "v41") -> ExecutionContext:
    return ExecutionContext(
        incident_id="INC-1", service="web", base_dir=base, target_release=release
    )


# (slug, option config, credentials set, the commands run in order)
RECIPES: list[tuple[str, dict[str, Any], dict[str, str], list[str]]] = [
    (
        "kubernetes",
        {"deployment": "web", "namespace": "shop"},
        {"KUBECONFIG": "/etc/kube.yaml"},
        [
            "kubectl rollout undo deployment/web -n shop",
            "kubectl rollout status deployment/web -n shop --timeout=300s",
        ],
    ),
    (
        "kubernetes",
        {"deployment": "web", "revision": "7", "context": "arn:aws:eks:eu:1:cluster/prod"},
        {"KUBECONFIG": "/etc/kube.yaml"},
        [
            "kubectl rollout undo deployment/web -n default --to-revision=7 "
            "--context arn:aws:eks:eu:1:cluster/prod",
            "kubectl rollout status deployment/web -n default --timeout=300s "
            "--context arn:aws:eks:eu:1:cluster/prod",
        ],
    ),
    (
        "helm",
        {"release_name": "shop", "namespace": "prod"},
        {"KUBECONFIG": "/etc/kube.yaml"},
        ["helm rollback shop --wait -n prod"],
    ),
    (
        "helm",
        {"release_name": "shop", "revision": "3", "kube_context": "eu"},
        {"KUBECONFIG": "/etc/kube.yaml"},
        ["helm rollback shop 3 --wait -n default --kube-context eu"],
    ),
    (
        "docker-compose",
        {"compose_file": "deploy/compose.yaml"},
        {},
        ["docker compose -f deploy/compose.yaml up -d web"],
    ),
    (
        "fly",
        {"app": "shop", "image": "registry.fly.io/shop"},
        {"FLY_API_TOKEN": "fly-token-1"},
        ["fly deploy --image registry.fly.io/shop:v41 -a shop"],
    ),
    ("vercel", {}, {"VERCEL_TOKEN": "vercel-token-1"}, ["vercel rollback --timeout 300s"]),
    (
        "vercel",
        {"deployment": "dpl_abc123", "scope": "acme", "wait_seconds": 0},
        {"VERCEL_TOKEN": "vercel-token-1"},
        ["vercel rollback dpl_abc123 --scope acme --timeout 0s"],
    ),
    (
        "heroku",
        {"app": "shop", "version": "40"},
        {"HEROKU_API_KEY": "heroku-key-1"},
        ["heroku releases:rollback v40 -a shop"],
    ),
    ("heroku", {"app": "shop"}, {"HEROKU_API_KEY": "k"}, ["heroku releases:rollback -a shop"]),
    ("railway", {}, {"RAILWAY_TOKEN": "rw-1"}, ["railway redeploy --service web -y"]),
    (
        "railway",
        {
            "railway_service": "api",
            "environment": "production",
            "remove_latest": True,
            "extra_args": ["--json"],
        },
        {"RAILWAY_TOKEN": "rw-1"},
        [
            "railway down --service api --environment production -y",
            "railway redeploy --service api --environment production -y --json",
        ],
    ),
    (
        "aws-ecs",
        {"cluster": "prod", "ecs_service": "web", "family": "web", "revision": "41"},
        {"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "aws-secret-1"},
        [
            "aws ecs update-service --cluster prod --service web --task-definition web:41",
            "aws ecs wait services-stable --cluster prod --services web",
        ],
    ),
    (
        "aws-ecs",
        {"cluster": "prod", "ecs_service": "web", "family": "web", "region": "eu-west-1"},
        {"AWS_PROFILE": "ops"},
        [
            "aws ecs update-service --cluster prod --service web --task-definition web:v41 "
            "--region eu-west-1",
            "aws ecs wait services-stable --cluster prod --services web --region eu-west-1",
        ],
    ),
    (
        "aws-ecs",
        {"cluster": "prod", "ecs_service": "web", "family": "web", "wait": False},
        {"AWS_PROFILE": "ops"},
        ["aws ecs update-service --cluster prod --service web --task-definition web:v41"],
    ),
]


@pytest.mark.parametrize(("slug", "config", "credentials", "commands"), RECIPES)
def test_each_recipe_runs_its_exact_commands(
    tools: StandIns,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    slug: str,
    config: dict[str, Any],
    credentials: dict[str, str],
    commands: list[str],
) -> None:
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    program = commands[0].split()[0]
    tools.tool(program)
    executor, option = _option(slug, dry_run=False, **config)

    items = executor.readiness(option, _ctx(tmp_path))
    result = executor.execute(option, _ctx(tmp_path))

    assert [i.item for i in items if not i.passed] == []
    assert result.status == ExecutionStatus.SUCCEEDED, result.error
    assert tools.argvs() == [command.split() for command in commands]
    assert [c.argv[1:] for c in result.commands] == [c.split()[1:] for c in commands]
    assert all(c.exit_code == 0 for c in result.commands)


def test_compose_pins_the_tag_in_the_env_file_and_the_command_env(
    tools: StandIns, tmp_path: Path
) -> None:
    tools.tool("docker")
    (tmp_path / ".env").write_text("COMPOSE_PROJECT_NAME=shop\nIMAGE_TAG=v42\n")
    executor, option = _option("docker-compose", env_file=".env", dry_run=False)

    result = executor.execute(option, _ctx(tmp_path))

    assert result.status == ExecutionStatus.SUCCEEDED
    assert (tmp_path / ".env").read_text() == "COMPOSE_PROJECT_NAME=shop\nIMAGE_TAG=v41\n"
    pin, up = result.commands
    assert pin.argv == ["pin", "IMAGE_TAG=v41", "in", str(tmp_path / ".env")]
    assert pin.stdout == "IMAGE_TAG: v42 -> v41\n"
    assert up.env == {"IMAGE_TAG": "v41"}
    assert tools.calls() == [
        {"argv": ["docker", "compose", "up", "-d", "web"], "env": {"IMAGE_TAG": "v41"}}
    ]


def test_compose_that_cannot_write_its_env_file_runs_nothing(
    tools: StandIns, tmp_path: Path
) -> None:
    tools.tool("docker")
    executor, option = _option("docker-compose", env_file="missing/.env", tag_variable="WEB_TAG")

    result = executor.execute(option, _ctx(tmp_path))

    assert result.status == ExecutionStatus.FAILED
    assert result.error is not None and "could not write" in result.error
    assert tools.calls() == []


def test_missing_binary_fails_readiness_naming_it(tools: StandIns, tmp_path: Path) -> None:
    executor, option = _option("helm", release_name="shop")

    items = executor.readiness(option, _ctx(tmp_path))

    missing = [i for i in items if not i.passed]
    assert [(i.item, i.detail) for i in missing] == [
        ("undo: helm on PATH", "helm not found"),
        ("undo: credentials present (KUBECONFIG)", "unset: KUBECONFIG"),
    ]
    assert tools.calls() == []  # no dry run while a prerequisite is unmet


@pytest.mark.parametrize(
    ("slug", "config", "item", "detail"),
    [
        (
            "fly",
            {"app": "a", "image": "i"},
            "(FLY_API_TOKEN or FLY_ACCESS_TOKEN)",
            "unset: FLY_API_TOKEN; or unset: FLY_ACCESS_TOKEN",
        ),
        ("heroku", {"app": "shop"}, "(HEROKU_API_KEY)", "unset: HEROKU_API_KEY"),
        (
            "aws-ecs",
            {"cluster": "c", "ecs_service": "s", "family": "f"},
            "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_PROFILE)",
            "unset: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; or unset: AWS_PROFILE",
        ),
        (
            "kubernetes",
            {"deployment": "web", "credentials": ["KUBE_TOKEN"]},
            "(KUBE_TOKEN)",
            "unset: KUBE_TOKEN",
        ),
    ],
)
def test_missing_credential_fails_readiness_naming_the_variable(
    tools: StandIns,
    tmp_path: Path,
    slug: str,
    config: dict[str, Any],
    item: str,
    detail: str,
) -> None:
    executor, option = _option(slug, **config)
    tools.tool(executor.recipe.program)  # type: ignore[attr-defined]

    items = executor.readiness(option, _ctx(tmp_path))

    (failed,) = [i for i in items if not i.passed]
    assert failed.item == f"undo: credentials present {item}"
    assert failed.detail == detail
    assert tools.calls() == []


def test_credentials_set_in_the_option_or_none_needed(tools: StandIns, tmp_path: Path) -> None:
    tools.tool("kubectl")
    executor, in_cluster = _option("kubernetes", deployment="web", credentials=[], dry_run=False)
    _, with_env = _option(
        "kubernetes", deployment="web", env={"KUBECONFIG": "/srv/kube.yaml"}, dry_run=False
    )

    assert all(i.passed for i in executor.readiness(in_cluster, _ctx(tmp_path)))
    assert all(i.passed for i in executor.readiness(with_env, _ctx(tmp_path)))
    executor.execute(with_env, _ctx(tmp_path))
    assert tools.calls()[0]["env"] == {"KUBECONFIG": "/srv/kube.yaml"}


def test_dry_run_runs_at_readiness_and_its_failure_says_what_the_tool_said(
    tools: StandIns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", "/etc/kube.yaml")
    tools.tool(
        "kubectl",
        {
            "when": ["--dry-run=server"],
            "stderr": 'Error from server (NotFound): deployments.apps "web" not found\n',
            "exit": 1,
        },
    )
    executor, option = _option("kubernetes", deployment="web", namespace="shop", revision="4")

    items = executor.readiness(option, _ctx(tmp_path))

    assert tools.argvs() == [
        "kubectl rollout undo deployment/web -n shop --to-revision=4 --dry-run=server".split()
    ]
    dry = items[-1]
    assert (dry.item, dry.passed) == ("undo: dry run passes", False)
    assert (
        dry.detail == 'exit code 1: Error from server (NotFound): deployments.apps "web" not found'
    )


def test_dry_run_of_helm_and_compose(
    tools: StandIns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", KUBE_ENV["KUBECONFIG"])
    tools.tool("helm")
    tools.tool("docker")
    helm, helm_option = _option("helm", release_name="shop", revision="{release}")
    compose, compose_option = _option("docker-compose", compose_service="api")

    assert all(i.passed for i in helm.readiness(helm_option, _ctx(tmp_path, "12")))
    assert all(i.passed for i in compose.readiness(compose_option, _ctx(tmp_path)))

    assert tools.calls() == [
        {"argv": "helm rollback shop 12 --dry-run -n default".split(), "env": KUBE_ENV},
        {
            "argv": "docker compose --dry-run up -d api".split(),
            "env": {"IMAGE_TAG": "v41", **KUBE_ENV},
        },
    ]


def test_failing_step_stops_the_recipe_and_says_why(
    tools: StandIns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", "/etc/kube.yaml")
    tools.tool(
        "kubectl",
        {"when": ["undo"], "stderr": "error: no rollout history found\n", "exit": 1},
    )
    executor, option = _option("kubernetes", deployment="web")

    result = executor.execute(option, _ctx(tmp_path))

    assert result.status == ExecutionStatus.FAILED
    assert result.error == "kubectl: exit code 1"
    assert [argv[1:3] for argv in tools.argvs()] == [["rollout", "undo"]]
    assert result.commands[0].stderr == "error: no rollout history found\n"


def test_hanging_tool_times_out(tools: StandIns, tmp_path: Path) -> None:
    tools.tool("docker", {"when": ["up"], "stdout": "pulling\n", "sleep": 30})
    executor, option = _option("docker-compose", timeout_seconds=1)

    result = executor.execute(option, _ctx(tmp_path))

    assert result.status == ExecutionStatus.TIMED_OUT
    assert result.commands[0].timed_out and result.commands[0].duration_s < 10
    assert result.commands[0].stdout == "pulling\n"


def test_release_that_is_no_identifier_is_refused_before_anything_runs(
    tools: StandIns, tmp_path: Path
) -> None:
    tools.tool("fly")
    executor, option = _option("fly", app="shop", image="registry.fly.io/shop")

    items = executor.readiness(option, _ctx(tmp_path, "v1;rm -rf /"))
    result = executor.execute(option, _ctx(tmp_path, "v1;rm -rf /"))

    resolve = next(i for i in items if i.item == "undo: command arguments resolve")
    assert not resolve.passed and "placeholder {release} has no safe value" in resolve.detail
    assert result.status == ExecutionStatus.FAILED
    assert tools.calls() == []


STATES = [
    (
        "kubernetes",
        {"deployment": "web", "namespace": "shop"},
        "kubectl get deployment/web -n shop -o jsonpath={.spec.template.spec.containers[0].image}",
        "registry:5000/shop/web:v41",
        "v41",
    ),
    (
        "helm",
        {"release_name": "shop"},
        "helm history shop -n default --max 1 -o json",
        '[{"revision": 9, "status": "deployed", "app_version": "v41"}]',
        "v41",
    ),
    (
        "docker-compose",
        {"compose_file": "compose.yaml"},
        "docker compose -f compose.yaml images web --format json",
        '[{"ContainerName": "shop-web-1", "Repository": "shop/web", "Tag": "v41"}]',
        "v41",
    ),
    (
        "aws-ecs",
        {"cluster": "prod", "ecs_service": "web", "family": "web"},
        "aws ecs describe-services --cluster prod --services web "
        "--query services[0].taskDefinition --output text",
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:v41\n",
        "web:v41",
    ),
]


@pytest.mark.parametrize(("slug", "config", "command", "printed", "live"), STATES)
def test_state_check_tells_whether_the_rollback_took_effect(
    tools: StandIns,
    tmp_path: Path,
    slug: str,
    config: dict[str, Any],
    command: str,
    printed: str,
    live: str,
) -> None:
    executor, option = _option(slug, **config)
    tools.tool(command.split()[0], {"stdout": printed})

    assert executor.current_release(option, _ctx(tmp_path)) == live
    took = executor.check_state(option, _ctx(tmp_path))
    missed = executor.check_state(option, _ctx(tmp_path, "v40"))

    assert (took.took_effect, took.live) == (True, live)
    assert missed.took_effect is False and "not the target" in missed.detail
    assert tools.argvs()[0] == command.split()


def test_state_check_that_fails_or_prints_nonsense_cannot_tell(
    tools: StandIns, tmp_path: Path
) -> None:
    tools.tool("helm", {"when": ["shop"], "stdout": "not json"}, {"exit": 1})
    executor, shop = _option("helm", release_name="shop")
    _, other = _option("helm", release_name="other")

    assert executor.check_state(shop, _ctx(tmp_path)).took_effect is None
    assert executor.check_state(other, _ctx(tmp_path)).took_effect is None


@pytest.mark.parametrize("slug", ["fly", "vercel", "heroku", "railway"])
def test_providers_that_cannot_report_what_is_live_say_so(
    tools: StandIns, tmp_path: Path, slug: str
) -> None:
    config = {"fly": {"app": "a", "image": "i"}, "heroku": {"app": "a"}}.get(slug, {})
    executor, option = _option(slug, **config)

    found = executor.check_state(option, _ctx(tmp_path))

    assert found.took_effect is None
    assert (
        found.detail
        == f"{slug} cannot report what is live, so it cannot tell whether undo took effect"
    )
    assert tools.calls() == []


# -- whole incidents ------------------------------------------------------------------------


def _declared_and_assessed(ws: Workspace) -> str:
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    return incident


def test_kubernetes_rollback_through_a_whole_incident(workspace: Workspace, tmp_path: Path) -> None:
    ws = workspace
    tools = StandIns(tmp_path / "bin")
    tools.tool(
        "kubectl",
        {"when": ["get"], "stdout": "registry.example/shop/web:v2"},
        {"when": ["status"], "stdout": 'deployment "web" successfully rolled out\n'},
    )
    ws.configure(
        [{"name": "k8s-undo", "kind": "kubernetes", "deployment": "web", "namespace": "shop"}]
    )
    env = {"PATH": tools.path, **KUBE_ENV}
    incident = _declared_and_assessed(ws)

    planned = ws.ok("plan", incident, env=env)
    assert "roll back web to v1 via k8s-undo (kubernetes)" in planned.stdout
    ws.ok("approve", incident, "--kind", "mitigation", "--yes", "--as", "on-call", env=env)
    executed = ws.ok("execute", incident, env=env)

    assert "k8s-undo: succeeded" in executed.stdout
    assert tools.argvs() == [
        "kubectl rollout undo deployment/web -n shop --dry-run=server".split(),
        [*"kubectl get deployment/web -n shop -o".split(), f"jsonpath={JSONPATH}"],
        "kubectl rollout undo deployment/web -n shop".split(),
        "kubectl rollout status deployment/web -n shop --timeout=300s".split(),
    ]
    checklist = ws.read_json(incident, "rollback-readiness-checklist.json")
    assert {i["item"]: i["passed"] for i in checklist["items"] if i.get("option")} == {
        "k8s-undo: kubectl on PATH": True,
        "k8s-undo: command arguments resolve": True,
        "k8s-undo: credentials present (KUBECONFIG)": True,
        "k8s-undo: dry run passes": True,
    }
    (run,) = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert (run["option"], run["status"]) == ("k8s-undo", "succeeded")
    assert (run["release_before"], run["release_after"]) == ("v2", "v1")
    assert [c["argv"][1:3] for c in run["commands"]] == [["rollout", "undo"], ["rollout", "status"]]
    assert run["commands"][1]["stdout"] == 'deployment "web" successfully rolled out\n'
    decisions = ws.read_json(incident, "decision-log.json")["decisions"]
    assert [(d["kind"], d["answer"]) for d in decisions] == [
        ("severity", "yes"),
        ("mitigation", "yes"),
    ]
    timeline = ws.read(incident, "incident-timeline.md")
    assert "running k8s-undo (kubernetes) → v1" in timeline
    assert "[AUTOMATION] k8s-undo executed: succeeded" in timeline


def test_failing_provider_falls_through_to_the_next_option(
    workspace: Workspace, tmp_path: Path
) -> None:
    ws = workspace
    tools = StandIns(tmp_path / "bin")
    tools.tool("heroku", {"stderr": " !    Couldn't find that app.\n", "exit": 1})
    ws.configure(
        [
            {"name": "heroku-back", "kind": "heroku", "app": "shop"},
            script_option("second", "rollback_ok.sh"),
        ]
    )
    env = {"PATH": tools.path, "HEROKU_API_KEY": "hk-0000"}
    incident = _declared_and_assessed(ws)
    ws.ok("plan", incident, "--yes", "--as", "on-call", env=env)

    result = ws.ok("execute", incident, env=env)

    assert "heroku-back: failed — heroku: exit code 1" in result.stdout
    assert "second: succeeded" in result.stdout
    assert ws.live_release() == "v1"
    assert tools.argvs() == [["heroku", "releases:rollback", "-a", "shop"]]
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [(r["option"], r["status"]) for r in runs] == [
        ("heroku-back", "failed"),
        ("second", "succeeded"),
    ]
    assert "Couldn't find that app." in runs[0]["commands"][0]["stderr"]
    timeline = ws.read(incident, "incident-timeline.md")
    assert "[ERROR] Rollback script failed: heroku: exit code 1." in timeline
    assert "Trying next: second" in ws.read(incident, "communication-log.md")


def test_provider_secrets_are_redacted_in_the_evidence(
    workspace: Workspace, tmp_path: Path
) -> None:
    ws = workspace
    token, key = "vercel-token-5h2k9x", "heroku-key-7q3m1z"
    tools = StandIns(tmp_path / "bin")
    tools.tool("vercel", {"stdout": "token $VERCEL_TOKEN rejected\n", "exit": 1})
    tools.tool("heroku", {"stdout": "auth with $HEROKU_API_KEY\n", "stderr": "key=$HEROKU_API_KEY"})
    ws.configure(
        [
            {
                "name": "vercel-back",
                "kind": "vercel",
                "secret_env": {"VERCEL_TOKEN": "${TEAM_TOKEN}"},
            },
            {"name": "heroku-back", "kind": "heroku", "app": "shop"},
        ]
    )
    env = {"PATH": tools.path, "TEAM_TOKEN": token, "HEROKU_API_KEY": key}
    incident = _declared_and_assessed(ws)
    ws.ok("plan", incident, "--yes", "--as", "on-call", env=env)

    ws.ok("execute", incident, env=env)

    vercel_call, heroku_call = tools.calls()
    assert vercel_call["env"]["VERCEL_TOKEN"] == token  # the tool got it, from the option
    assert heroku_call["env"]["HEROKU_API_KEY"] == key  # the tool got it, from ic's environment
    vercel, heroku = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert vercel["commands"][0]["argv"] == ["vercel", "rollback", "--timeout", "300s"]
    assert vercel["commands"][0]["env"] == {"VERCEL_TOKEN": "[REDACTED]"}
    assert vercel["commands"][0]["stdout"] == "token [REDACTED] rejected\n"
    assert heroku["status"] == "succeeded"
    assert heroku["commands"][0]["stdout"] == "auth with [REDACTED]\n"
    assert heroku["commands"][0]["stderr"] == "key=[REDACTED]"
    for path in ws.evidence(incident).rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert token not in text and key not in text, path


def test_missing_tool_halts_the_plan_naming_it(workspace: Workspace, tmp_path: Path) -> None:
    ws = workspace
    tools = StandIns(tmp_path / "bin")
    ws.configure(
        [
            {
                "name": "ecs-back",
                "kind": "aws-ecs",
                "cluster": "c",
                "ecs_service": "web",
                "family": "web",
            }
        ]
    )
    incident = _declared_and_assessed(ws)

    result = ws.ic("plan", incident, "--yes", "--as", "on-call", env={"PATH": tools.path})

    assert result.returncode != 0
    timeline = ws.read(incident, "incident-timeline.md")
    assert "rollback prerequisites unmet" in timeline
    assert "ecs-back: aws on PATH: aws not found" in timeline
    assert (
        "ecs-back: credentials present (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
        in timeline
    )
    assert '"status": "halted"' in ws.ok("show", incident, "--json").stdout
    assert tools.calls() == []


@pytest.mark.parametrize(
    ("option", "key", "name"),
    [
        ({"extra_args": ["--selector=app={build}"]}, "rollback_options.0.extra_args", "{build}"),
        ({"revision": "{build}"}, "rollback_options.0.revision", "{build}"),
        ({"revision": "--force"}, "rollback_options.0.revision", "must be an identifier"),
        ({"context": "-v"}, "rollback_options.0.context", "should match pattern"),
    ],
)
def test_bad_template_is_refused_when_the_config_is_loaded(
    tmp_path: Path, option: dict[str, Any], key: str, name: str
) -> None:
    ws = Workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'ic.db'}")
    ws.configure([{"name": "k8s-undo", "kind": "kubernetes", "deployment": "web", **option}])

    result = run_ic("list", cwd=ws.root, env=ws.env)

    assert_clean_error(result, 2, f"services.web.{key}", name)


def test_crash_mid_rollout_is_settled_by_the_state_check(
    workspace: Workspace, tmp_path: Path
) -> None:
    ws = workspace
    tools = StandIns(tmp_path / "bin")
    tools.tool(
        "kubectl",
        {"when": ["get"], "stdout": "registry.example/shop/web:v2"},
        {"when": ["status"], "stdout": "Waiting for rollout to finish\n", "sleep": 60},
    )
    ws.configure([{"name": "k8s-undo", "kind": "kubernetes", "deployment": "web"}])
    env = {**ws.env, "PATH": tools.path, **KUBE_ENV}
    incident = _declared_and_assessed(ws)
    ws.ok("plan", incident, "--yes", "--as", "on-call", env=env)
    proc = subprocess.Popen(
        [ic_path(), "execute", incident],
        cwd=ws.root,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        until(lambda: any("status" in a for a in tools.argvs()), "kubectl rollout status to start")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    _stop_leftovers(ws)
    # The undo went through before the crash: the Deployment now runs the v1 image.
    tools.tool("kubectl", {"when": ["get"], "stdout": "registry.example/shop/web:v1"})

    again = ws.ok("execute", incident, env=env)

    assert "v1 is live, the target" in again.stdout and "the rollback took effect" in again.stdout
    assert [argv[1] for argv in tools.argvs()].count("rollout") == 3  # dry run, undo, status
    (run,) = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert (run["status"], run["release_before"], run["release_after"]) == ("succeeded", "v2", "v1")
    assert json.loads(ws.ok("show", incident, "--json").stdout)["status"] == "validating"
