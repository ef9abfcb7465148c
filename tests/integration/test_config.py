"""Config errors name the file, the key and what was expected; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from incident_commander.config import load_settings
from incident_commander.errors import ConfigError
from tests.conftest import assert_clean_error, run_ic


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ic.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("services: [unclosed", "not valid YAML at line 1"),
        ("- just\n- a list\n", "expected a mapping of settings, got list"),
        ("servces: {}\n", "servces: Extra inputs are not permitted"),
        ("severity:\n  scheme: SEV9\n", "severity: unknown scheme 'SEV9'"),
        (
            "services:\n  web:\n    rollback_options:\n      - name: x\n        kind: script\n",
            "services.web.rollback_options.0.argv: Field required",
        ),
        (
            "services:\n  web:\n    health_checks:\n      - name: h\n        kind: telepathy\n",
            "unknown check kind 'telepathy' (one of: alert-cleared, command, http, prometheus, "
            "slo-burn-rate, tcp)",
        ),
        (
            "validation:\n  threshold: 2\n",
            "validation.threshold: Input should be less than or equal to 1",
        ),
        ("services:\n  'web; rm -rf /': {}\n", "must be letters, digits"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert str(path) in error.value.message
    assert expected in error.value.message


def test_cli_reports_a_malformed_config_without_traceback(tmp_path: Path) -> None:
    _write(tmp_path, "services:\n  web:\n    probe:\n      failure_threshold: zero\n")
    result = run_ic("list", cwd=tmp_path)
    assert_clean_error(result, 2, "ic.yaml: services.web.probe.failure_threshold", "valid integer")
    assert not (tmp_path / "ic.db").exists()


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    result = run_ic("--config", "nowhere/ic.yaml", "list", cwd=tmp_path)
    assert_clean_error(result, 2, "nowhere/ic.yaml: config file not found", "ic init")
    env_result = run_ic("list", cwd=tmp_path, env={"IC_CONFIG": str(tmp_path / "gone.yaml")})
    assert_clean_error(env_result, 2, "config file named by IC_CONFIG not found")


def test_without_any_config_the_defaults_apply(tmp_path: Path) -> None:
    result = run_ic("list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No incidents." in result.stdout
    assert (tmp_path / "ic.db").exists()


def test_init_writes_a_starter_config_that_loads(tmp_path: Path) -> None:
    result = run_ic("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    settings = load_settings(tmp_path / "ic.yaml")
    assert settings.scheme.name == "SEV1-4"
    assert [o.kind for o in settings.services["web"].rollback_options] == [
        "release-symlink",
        "script",
    ]
    assert "# Incident Commander configuration" in (tmp_path / "ic.yaml").read_text()
    again = run_ic("init", cwd=tmp_path)
    assert_clean_error(again, 2, "already exists; use --force")


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    result = run_ic(
        "list", cwd=tmp_path, env={"IC_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    )
    assert_clean_error(result, 5, "cannot open the database")
