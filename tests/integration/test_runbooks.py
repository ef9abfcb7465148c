"""`ic runbook generate`: golden runbooks for two stacks, ic.yaml agreement, config errors.

The golden files in ``tests/integration/golden/`` are the exact expected output; after an
intended change to the templates, regenerate them with ``IC_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import assert_clean_error, run_ic

GOLDEN = Path(__file__).parent / "golden"
RUNBOOK = "standards/ops/incident-runbook.md"
TEMPLATE = "standards/ops/post-mortem-template.md"

FLY_SOLO: dict[str, Any] = {
    "company": {
        "name": "Shopkeep",
        "support_contact": "help@shopkeep.example",
        "status_page": "https://status.shopkeep.example",
    },
    "team": {"size": 1},
    "hosting": {"provider": "Fly.io", "app": "shopkeep", "image": "registry.fly.io/shopkeep"},
    "database": {"engine": "postgresql", "orm": "prisma"},
    "feature_flags": {"provider": "posthog"},
    "observability": {"provider": "Better Stack"},
    "error_tracking": {
        "provider": "Sentry",
        "dashboard": "https://sentry.io/organizations/shopkeep",
    },
}

K8S_TEAM: dict[str, Any] = {
    "company": {"name": "Ledgerly", "support_contact": "support@ledgerly.example"},
    "team": {
        "size": 8,
        "incident_channel": "#incidents",
        "escalation": [
            {"role": "platform on-call", "contact": "pager: platform"},
            {"role": "head of engineering", "contact": "+44 20 7946 0000"},
        ],
    },
    "hosting": {"provider": "k8s", "app": "ledger-api", "namespace": "ledger"},
    "database": {"orm": "alembic", "migrations_dir": "migrations"},
    "feature_flags": {"provider": "unleash"},
    "observability": {"provider": "Grafana", "dashboard": "https://grafana.ledgerly.example/d/api"},
    "error_tracking": {"provider": "Sentry"},
    "dns": {
        "provider": "route53",
        "record": "api.ledgerly.example",
        "failover_target": "maintenance.ledgerly.example",
        "ttl_seconds": 60,
    },
    "cache": {"provider": "redis", "key_prefix": "ledger:"},
    "severity": {"resolution": {"SEV1": "2 hours", "SEV2": "1 day", "SEV3": "1 week"}},
}

K8S_IC_YAML: dict[str, Any] = {
    "severity": {"scheme": "SEV1-4"},
    "services": {
        "ledger-api": {
            "url": "https://api.ledgerly.example/health",
            "rollback_options": [
                {
                    "name": "k8s-undo",
                    "kind": "kubernetes",
                    "deployment": "ledger-api",
                    "namespace": "ledger",
                    "context": "prod-eu",
                },
                {
                    "name": "rollback-script",
                    "kind": "script",
                    "argv": ["scripts/rollback.sh", "--release", "{release}"],
                },
                {
                    "name": "flush-ledger-cache",
                    "kind": "redis-cache",
                    "url": "redis://127.0.0.1:6379/0",
                    "patterns": ["ledger:{service}:*"],
                    "purpose": "containment",
                    "incidents": ["bad-deploy"],
                },
            ],
        }
    },
}

# Words that hand the incident to someone else in a team: none belongs in a solo runbook.
TEAM_LANGUAGE = re.compile(
    r"\bteam\b|\bteams\b|team lead|escalat|\bmanager\b|teammate|colleague|all hands|"
    r"on-call rotation|incident lead|hand (it )?over|\bpage (someone|the)\b",
    re.I,
)


def _write(root: Path, name: str, data: dict[str, Any]) -> None:
    (root / name).write_text(yaml.safe_dump(data, sort_keys=False))


def _generate(root: Path, *args: str) -> str:
    result = run_ic("runbook", "generate", *args, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("IC_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"{path} missing: run with IC_UPDATE_GOLDEN=1 once"
    assert text == path.read_text(), f"{name} differs from the golden file"


def test_fly_prisma_solo_runbook(tmp_path: Path) -> None:
    _write(tmp_path, "company.config.yaml", FLY_SOLO)

    out = _generate(tmp_path, "--config", "company.config.yaml", "--out", "standards/ops")

    assert "Wrote standards/ops/incident-runbook.md" in out
    assert "Severity levels: P0-P3 (from company.config.yaml); 0 ic option(s)" in out
    runbook = (tmp_path / RUNBOOK).read_text()
    _golden("runbook-fly-prisma-solo.md", runbook)
    # Fly.io: find the last good image, deploy it again, watch it.
    assert "`fly releases --image -a shopkeep`" in runbook
    assert "`fly deploy --image registry.fly.io/shopkeep:$RELEASE -a shopkeep`" in runbook
    assert "`fly status -a shopkeep`" in runbook
    # Prisma: down script for a failed migration, roll forward for a succeeded one.
    assert "`npx prisma db execute --file down.sql --schema prisma/schema.prisma`" in runbook
    assert "`npx prisma migrate resolve --rolled-back <migration_name>`" in runbook
    assert "`npx prisma migrate deploy`" in runbook
    for other in ("kubectl", "alembic", "vercel rollback", "manage.py", "drizzle-kit"):
        assert other not in runbook
    # The seed's P0-P3 targets, with examples.
    assert (
        "| **P0** | outage, data loss or breach | the production database is unreachable" in runbook
    )
    assert "| immediate | 1 hour |" in runbook
    assert "| **P3** | cosmetic |" in runbook and "| next sprint | 1 week |" in runbook
    # Written for one person, from start to end.
    assert "## Working alone" in runbook
    assert "Shopkeep service disruption on [YYYY-MM-DD]" in runbook
    assert "Fly.io support for the platform" in runbook
    found = TEAM_LANGUAGE.findall(runbook)
    assert not found, f"team language in a solo runbook: {found}"
    template = (tmp_path / TEMPLATE).read_text()
    _golden("post-mortem-fly-prisma-solo.md", template)
    assert "## Root cause: the 5 Whys" in template
    assert "- **Severity:** [P0 | P1 | P2 | P3]" in template
    assert not TEAM_LANGUAGE.findall(template)


def test_kubernetes_alembic_team_runbook_follows_ic_yaml(tmp_path: Path) -> None:
    _write(tmp_path, "company.config.yaml", K8S_TEAM)
    _write(tmp_path, "ic.yaml", K8S_IC_YAML)

    out = _generate(tmp_path)  # the defaults: ./company.config.yaml into standards/ops

    assert "Severity levels: SEV1-4 (from ic.yaml); 3 ic option(s)" in out
    runbook = (tmp_path / RUNBOOK).read_text()
    _golden("runbook-kubernetes-alembic-team.md", runbook)
    # The rollback steps name each option of ic.yaml, its kind and what it runs.
    assert (
        "- `ic` option `k8s-undo` (kubernetes, service `ledger-api`) runs "
        "`kubectl rollout undo deployment/ledger-api -n ledger --context prod-eu`, then "
        "`kubectl rollout status deployment/ledger-api -n ledger --timeout=300s "
        "--context prod-eu`." in runbook
    )
    assert (
        "- `ic` option `rollback-script` (script, service `ledger-api`) runs the script: "
        "`scripts/rollback.sh --release $RELEASE`." in runbook
    )
    assert (
        "- `ic` option `flush-ledger-cache` (redis-cache, service `ledger-api`) deletes the keys "
        "matching `ledger:ledger-api:*`" in runbook
    )
    assert "redis://" not in runbook  # the cache URL may hold a password
    # Kubernetes by hand, and Alembic.
    assert "`kubectl rollout history deployment/ledger-api -n ledger`" in runbook
    assert "`helm rollback <release> <revision> -n ledger --wait`" in runbook
    assert "`alembic downgrade -1`" in runbook
    assert "`alembic downgrade <current>:<previous> --sql`" in runbook
    assert "fly deploy" not in runbook and "prisma" not in runbook
    # Levels of ic.yaml's scheme; resolution targets from the company config where it has none.
    assert "| **SEV1** | service down, data loss or security breach |" in runbook
    assert "| immediate | 2 hours |" in runbook
    assert "| **SEV4** | cosmetic |" in runbook
    assert "| backlog | not set (add severity.resolution to company.config.yaml) |" in runbook
    # A team: roles and the escalation order.
    assert "## Roles and escalation" in runbook and "## Working alone" not in runbook
    assert "1. platform on-call: pager: platform" in runbook
    assert "2. head of engineering: +44 20 7946 0000" in runbook
    assert "Open #incidents and name the incident lead" in runbook
    assert "`aws route53 change-resource-record-sets --hosted-zone-id <zone-id>" in runbook
    assert "`redis-cli --scan --pattern 'ledger:*' | xargs -r -n 500 redis-cli unlink`" in runbook
    _golden("post-mortem-kubernetes-alembic-team.md", (tmp_path / TEMPLATE).read_text())


def test_generating_again_changes_nothing(tmp_path: Path) -> None:
    _write(tmp_path, "company.config.yaml", K8S_TEAM)
    _write(tmp_path, "ic.yaml", K8S_IC_YAML)
    _generate(tmp_path)
    first = (tmp_path / RUNBOOK).read_bytes()

    _generate(tmp_path)

    assert (tmp_path / RUNBOOK).read_bytes() == first


def test_ic_yaml_elsewhere_and_a_stack_mismatch_is_noted(tmp_path: Path) -> None:
    other = tmp_path / "ops"
    other.mkdir()
    _write(tmp_path, "company.config.yaml", FLY_SOLO)
    _write(other, "ic.yaml", K8S_IC_YAML)

    out = _generate(tmp_path, "--ic-config", "ops/ic.yaml", "--out", "runbooks")

    assert (
        "note: service ledger-api: ic.yaml rolls back with kubernetes, while company.config.yaml "
        "names Fly.io as the host" in out
    )
    runbook = (tmp_path / "runbooks" / "incident-runbook.md").read_text()
    assert "`ic` option `k8s-undo` (kubernetes" in runbook
    assert "`fly deploy --image registry.fly.io/shopkeep:$RELEASE -a shopkeep`" in runbook


def test_without_an_option_the_runbook_says_which_kind_would_do_it(tmp_path: Path) -> None:
    _write(tmp_path, "company.config.yaml", FLY_SOLO)
    _write(tmp_path, "ic.yaml", {"services": {"shop": {"url": "https://shopkeep.example/up"}}})

    _generate(tmp_path)

    runbook = (tmp_path / RUNBOOK).read_text()
    assert (
        "ic.yaml configures no option for this yet (an option of kind `fly` would do it" in runbook
    )
    assert "`shop` https://shopkeep.example/up" in runbook


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (
            "company: {name: X}\nteam: {size: 0}\nhosting: {provider: netlify}\n"
            "database: {orm: prisma, replicas: 2}\n",
            [
                "company.config.yaml: team.size: Input should be greater than or equal to 1",
                "company.config.yaml: hosting.provider: expected one of: vercel, aws, railway, "
                "fly, heroku, kubernetes, docker-compose, release-symlink (got 'netlify')",
                "company.config.yaml: database.replicas: Extra inputs are not permitted",
            ],
        ),
        ("company: {name: X}\n", ["company.config.yaml: hosting: Field required"]),
        (
            "company: {name: X}\nhosting: {provider: fly}\nfeature_flags: {provider: optimizely}\n",
            ["feature_flags.provider: expected one of: launchdarkly, unleash"],
        ),
        (
            "company: {name: X}\nhosting: {provider: fly}\nseverity: {scheme: S1-S9}\n",
            ["company.config.yaml: severity.scheme: expected one of: SEV1-3, SEV1-4, P1-P4, P0-P3"],
        ),
        (
            "company: {name: X}\nhosting: {provider: fly}\nseverity: {resolution: {P9: 1 day}}\n",
            ["severity.resolution.P9: not a level of the P0-P3 scheme (levels: P0, P1, P2, P3)"],
        ),
        ("company: [unclosed\n", ["company.config.yaml: not valid YAML at line 2"]),
        ("- just\n- a list\n", ["expected a mapping of settings, got list"]),
    ],
    ids=["keys", "required", "flags", "scheme", "level", "yaml", "list"],
)
def test_bad_company_config_names_the_key_and_what_was_expected(
    tmp_path: Path, content: str, needles: list[str]
) -> None:
    (tmp_path / "company.config.yaml").write_text(content)

    result = run_ic("runbook", "generate", cwd=tmp_path)

    assert_clean_error(result, 2, *needles)
    assert not (tmp_path / "standards").exists()


def test_missing_company_config_is_a_clear_error(tmp_path: Path) -> None:
    result = run_ic("runbook", "generate", "--config", "nowhere.yaml", cwd=tmp_path)

    assert_clean_error(result, 2, "nowhere.yaml: company config not found", "Hint: write a")


PROVIDER_OPTIONS: list[dict[str, Any]] = [
    {"kind": "kubernetes", "deployment": "web", "context": "prod", "extra_args": ["--v=2"]},
    {"kind": "helm", "release_name": "web", "namespace": "shop", "revision": "{release}"},
    {"kind": "docker-compose", "compose_file": "compose.prod.yaml"},
    {"kind": "fly", "app": "shop", "image": "registry.fly.io/shop"},
    {"kind": "vercel", "scope": "acme"},
    {"kind": "heroku", "app": "shop", "version": "{release}"},
    {"kind": "railway", "remove_latest": True, "environment": "production"},
    {"kind": "aws-ecs", "cluster": "prod", "ecs_service": "web", "family": "web"},
]


@pytest.mark.parametrize("option", PROVIDER_OPTIONS, ids=lambda o: o["kind"])
def test_runbook_commands_are_the_commands_the_executor_runs(
    tmp_path: Path, option: dict[str, Any]
) -> None:
    from incident_commander.config import Settings
    from incident_commander.executors.base import ExecutionContext
    from incident_commander.executors.recipes import RecipeExecutor
    from incident_commander.learn.options import configured_options, shell_words
    from incident_commander.plugins import EXECUTORS

    settings = Settings.model_validate(
        {"services": {"web": {"rollback_options": [{"name": "undo", **option}]}}}
    )
    (shown,) = configured_options(settings)
    executor = EXECUTORS.load(option["kind"])()
    assert isinstance(executor, RecipeExecutor)
    config = settings.services["web"].rollback_options[0]
    ctx = ExecutionContext(
        incident_id="INC-20260101-0001", service="web", base_dir=tmp_path, target_release="v41"
    )

    runs = [shell_words(argv) for argv in executor._commands(config, ctx)]

    assert [c.replace("$RELEASE", "v41") for c in shown.commands] == runs
