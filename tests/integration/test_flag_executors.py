"""flag-file: a flag turned off in its file, as a real OpenFeature flagd provider reads it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType

from incident_commander.executors.base import ExecutionContext
from incident_commander.executors.flag_file import FlagFileConfig, FlagFileExecutor
from tests.conftest import ic_path
from tests.waiting import until
from tests.workspace import Workspace, script_option

# A flagd file written by hand: odd spacing, a second flag, key order of its own. Only the text
# of new-checkout's defaultVariant may change.
FLAGD = """{
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "flags": {
    "new-checkout": {
      "state": "ENABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant" :   @VALUE@,
      "metadata": {"owner": "payments"}
    },
    "dark-mode": {"state": "ENABLED", "variants": {"on": true, "off": false},
                  "defaultVariant": "on"}
  }
}
"""
FLAGD_YAML = """# flagd flags, YAML form
flags:
  new-checkout:
    state: ENABLED   # kept as written
    variants:
      'on': true
      'off': false
    defaultVariant: @VALUE@
"""
PLAIN_YAML = (
    "# features\r\nfeatures:\r\n  new-checkout: @VALUE@  # owner: payments\r\n  beta: true\r\n"
)
PLAIN_JSON = '{"new-checkout":@VALUE@,\n "nested": {"new-checkout": true}}'

HANG_SH = """#!/usr/bin/env bash
here="$(cd "$(dirname "$0")/.." && pwd)"
echo $$ > "$here/hang.pid"
echo ran >> "$here/ran-hang"
exec sleep 60
"""


def _flag_file(ws: Workspace, text: str = FLAGD, value: str = '"on"') -> Path:
    path = ws.root / "flags.flagd.json"
    path.write_text(text.replace("@VALUE@", value))
    return path


def _option(**extra: Any) -> dict[str, Any]:
    return {
        "name": "checkout-off",
        "kind": "flag-file",
        "path": "flags.flagd.json",
        "flag": "new-checkout",
        **extra,
    }


def _to_awaiting(ws: Workspace) -> str:
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    return incident


def _status(ws: Workspace, incident: str) -> str:
    return str(json.loads(ws.ok("show", incident, "--json").stdout)["status"])


@pytest.fixture
def flagd_client(tmp_path: Path) -> Iterator[Any]:
    """An OpenFeature client backed by flagd's file resolver, made for a given flag file."""
    providers: list[FlagdProvider] = []

    def client_for(path: Path) -> OpenFeatureClient:
        domain = f"flags-{uuid.uuid4().hex[:8]}"
        provider = FlagdProvider(
            resolver_type=ResolverType.FILE, offline_flag_source_path=str(path), deadline_ms=50
        )
        api.set_provider_and_wait(provider, domain)
        providers.append(provider)
        return api.get_client(domain)

    yield client_for
    for provider in providers:
        provider.shutdown()


def test_flagd_flag_is_turned_off_for_the_openfeature_provider(
    workspace: Workspace, flagd_client: Any
) -> None:
    ws = workspace
    path = _flag_file(ws)
    before = path.read_bytes()
    client = flagd_client(path)
    assert client.get_boolean_value("new-checkout", False) is True
    ws.configure([_option()])
    incident = _to_awaiting(ws)
    checklist = ws.read_json(incident, "rollback-readiness-checklist.json")
    assert checklist["ready_options"] == ["checkout-off"]
    on_now = [
        i for i in checklist["items"] if i["item"] == "checkout-off: flag new-checkout is on now"
    ]
    assert on_now[0]["detail"] == 'defaultVariant "on", state ENABLED'

    result = ws.ok("execute", incident)

    assert "checkout-off: succeeded" in result.stdout
    until(
        lambda: client.get_boolean_value("new-checkout", True) is False, "the provider to read off"
    )
    assert client.get_boolean_value("dark-mode", False) is True
    assert path.read_bytes() == before.replace(
        b'"defaultVariant" :   "on"', b'"defaultVariant" :   "off"'
    )
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert (run["option"], run["kind"], run["status"]) == ("checkout-off", "flag-file", "succeeded")
    assert (run["release_before"], run["release_after"]) == (
        "flag new-checkout on",
        "flag new-checkout off",
    )
    assert run["commands"][0]["argv"] == ["flag-file", str(path.resolve()), "new-checkout", "off"]
    assert run["commands"][0]["stdout"].startswith(
        'flags.new-checkout.defaultVariant: "on" -> "off"'
    )
    decisions = ws.read_json(incident, "decision-log.json")
    prompt = "turn flag new-checkout off for web via checkout-off (flag-file)"
    assert any(prompt in json.dumps(d) for d in decisions["decisions"])
    timeline = ws.read(incident, "incident-timeline.md")
    assert "[AUTOMATION] checkout-off executed: succeeded" in timeline
    assert _status(ws, incident) == "validating"


def test_a_flag_option_needs_no_last_known_good_release(workspace: Workspace) -> None:
    ws = workspace
    _flag_file(ws)
    ws.configure([_option()])
    declared = ws.ok(
        "declare",
        "--title",
        "checkout fails",
        "--service",
        "web",
        "--source",
        "user-report",
        "--symptom",
        "HTTP 500 on /checkout",
        "--quiet",
    )
    incident = declared.stdout.strip()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")

    ws.ok("plan", incident, "--yes", "--as", "on-call")

    checklist = ws.read_json(incident, "rollback-readiness-checklist.json")
    assert checklist["ready_options"] == ["checkout-off"]
    ws.ok("execute", incident)
    assert _status(ws, incident) == "validating"


@pytest.mark.parametrize(
    ("template", "fmt", "name", "on", "off", "extra"),
    [
        (FLAGD, "flagd", "flags.json", '"on"', '"off"', {}),
        (FLAGD_YAML, "flagd", "flags.yaml", "on", '"off"', {}),
        (FLAGD_YAML, "flagd", "flags.yaml", "'on'", "'off'", {}),
        (PLAIN_YAML, "yaml", "features.yaml", "True", "False", {"under": ["features"]}),
        (PLAIN_JSON, "json", "features.json", "true", "false", {}),
    ],
    ids=["flagd-json", "flagd-yaml-plain", "flagd-yaml-quoted", "yaml-crlf", "json"],
)
def test_only_the_flags_value_changes_byte_for_byte(
    tmp_path: Path, template: str, fmt: str, name: str, on: str, off: str, extra: dict[str, Any]
) -> None:
    path = tmp_path / name
    path.write_bytes(template.replace("@VALUE@", on).encode())
    path.chmod(0o640)
    config = FlagFileConfig(name="off", path=name, flag="new-checkout", format=fmt, **extra)
    ctx = ExecutionContext(
        incident_id="INC-1", service="web", base_dir=tmp_path, target_release=None
    )
    executor = FlagFileExecutor()
    assert executor.check_state(config, ctx).took_effect is False

    result = executor.execute(config, ctx)

    assert result.status == "succeeded", result.error
    assert path.read_bytes() == template.replace("@VALUE@", off).encode()
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left
    found = executor.check_state(config, ctx)
    assert (found.took_effect, found.live) == (True, "flag new-checkout off")


def test_a_failed_flag_edit_falls_through_to_the_next_option(workspace: Workspace) -> None:
    ws = workspace
    path = _flag_file(ws)
    ws.configure([_option(), script_option("second", "rollback_ok.sh")])
    incident = _to_awaiting(ws)
    path.write_text('{"flags": {"new-checkout": ')  # broken between the plan and the execution

    result = ws.ok("execute", incident)

    assert "checkout-off: failed" in result.stdout and "second: succeeded" in result.stdout
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [(r["option"], r["status"]) for r in runs] == [
        ("checkout-off", "failed"),
        ("second", "succeeded"),
    ]
    assert "flag file flags.flagd.json exists and parses" in runs[0]["error"]
    assert "not valid JSON" in runs[0]["error"]
    assert path.read_text() == '{"flags": {"new-checkout": '
    comms = ws.read(incident, "communication-log.md")
    assert "rollback checkout-off FAILED" in comms and "Trying next: second" in comms
    assert ws.live_release() == "v1"


def test_a_failing_restart_after_the_flag_is_off_fails_the_option(workspace: Workspace) -> None:
    ws = workspace
    path = _flag_file(ws)
    ws.configure([_option(restart=["scripts/fail.sh"]), script_option("second", "rollback_ok.sh")])
    incident = _to_awaiting(ws)

    ws.ok("execute", incident)

    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert runs[0]["status"] == "failed" and runs[0]["error"] == "restart failed: exit code 3"
    assert runs[0]["release_after"] == "flag new-checkout off"
    assert "cannot reach the deploy API" in runs[0]["commands"][1]["stderr"]
    assert b'"defaultVariant" :   "off"' in path.read_bytes()
    assert runs[1]["status"] == "succeeded"


# Readiness reads files and servers only: one database is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        (lambda ws: None, "flag file flags.flagd.json exists and parses: "),
        (
            lambda ws: _flag_file(ws, value='"off"'),
            'flag new-checkout is on now: not on: defaultVariant "off", state ENABLED',
        ),
        (
            lambda ws: _flag_file(ws, FLAGD.replace("new-checkout", "old-checkout")),
            "flag new-checkout is defined: "
            "no flag new-checkout in flags (defined: dark-mode, old-checkout)",
        ),
        (
            lambda ws: _flag_file(
                ws, FLAGD.replace('"metadata"', '"targeting": {"if": [true, "on"]}, "metadata"')
            ),
            "no targeting rule overrides the default variant: targeting rules choose",
        ),
    ],
    ids=["missing-file", "already-off", "unknown-flag", "targeting"],
)
def test_readiness_halts_with_what_it_found(
    workspace: Workspace, arrange: Any, reason: str
) -> None:
    ws = workspace
    arrange(ws)
    ws.configure([_option()])
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")

    result = ws.ic("plan", incident, "--yes", "--as", "on-call")

    assert "Traceback" not in result.stdout + result.stderr
    show = json.loads(ws.ok("show", incident, "--json").stdout)
    assert show["status"] == "halted"
    assert f"checkout-off: {reason}" in show["halt_reason"], show["halt_reason"]
    checklist = ws.read_json(incident, "rollback-readiness-checklist.json")
    assert checklist["ready_options"] == [] and checklist["passed"] is False


def _kill_mid_restart(ws: Workspace, incident: str) -> None:
    """Start `ic execute`, wait until the flag is off and the restart hangs, SIGKILL ic."""
    owner = subprocess.Popen(
        [ic_path(), "execute", incident],
        cwd=ws.root,
        env={**os.environ, **ws.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_file = ws.root / "hang.pid"
    try:
        until(lambda: pid_file.exists() and pid_file.read_text().strip(), "the restart to start")
        owner.send_signal(signal.SIGKILL)
    finally:
        owner.wait()
    restart = int(pid_file.read_text())
    until(lambda: not Path(f"/proc/{restart}").exists() or _zombie(restart), "the restart to die")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("reverted", [False, True], ids=["flag-off", "flag-back-on"])
def test_a_killed_execute_is_settled_by_the_flag_state_and_nothing_runs_twice(
    workspace: Workspace, reverted: bool
) -> None:
    ws = workspace
    hang = ws.root / "scripts" / "hang-restart.sh"
    hang.write_text(HANG_SH)
    hang.chmod(0o755)
    path = _flag_file(ws)
    ws.configure([_option(restart=["scripts/hang-restart.sh"], restart_timeout_seconds=60)])
    incident = _to_awaiting(ws)
    _kill_mid_restart(ws, incident)
    assert _status(ws, incident) == "executing"
    assert b'"defaultVariant" :   "off"' in path.read_bytes()  # the edit landed before the kill
    if reverted:
        _flag_file(ws)  # someone turned it back on before anyone looked

    again = ws.ic("execute", incident)

    assert (ws.root / "ran-hang").read_text().count("ran") == 1
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    if reverted:
        assert again.returncode == 1, again.stdout + again.stderr
        assert (
            "flag new-checkout is still on" in again.stdout and "nothing was re-run" in again.stdout
        )
        assert b'"defaultVariant" :   "on"' in path.read_bytes()
        assert (run["status"], run["release_after"]) == ("interrupted", "flag new-checkout on")
        assert _status(ws, incident) == "planning"
    else:
        assert again.returncode == 0, again.stdout + again.stderr
        assert "the rollback took effect" in again.stdout
        assert (run["status"], run["release_after"]) == ("succeeded", "flag new-checkout off")
        assert _status(ws, incident) == "validating"
    assert ws.ic("evidence", "verify", incident).returncode == 0


def _direct(tmp_path: Path, name: str, **extra: Any) -> tuple[FlagFileConfig, ExecutionContext]:
    config = FlagFileConfig(name="off", path=name, flag="new-checkout", **extra)
    ctx = ExecutionContext(
        incident_id="INC-1", service="web", base_dir=tmp_path, target_release=None
    )
    return config, ctx


def test_a_flag_already_off_at_execution_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(FLAGD.replace("@VALUE@", '"off"'))
    before = path.read_bytes()
    config, ctx = _direct(tmp_path, "flags.json")

    result = FlagFileExecutor().execute(config, ctx)

    assert result.status == "succeeded"
    assert "was already off" in result.commands[0].stdout
    assert path.read_bytes() == before


def test_a_value_shared_through_a_yaml_anchor_is_not_changed(tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    path.write_text("new-checkout: &shared true\nbeta: *shared\n")
    config, ctx = _direct(tmp_path, "features.yaml", format="yaml")

    result = FlagFileExecutor().execute(config, ctx)

    assert result.status == "failed"
    assert result.error is not None and "would change more than that value" in result.error
    assert path.read_text() == "new-checkout: &shared true\nbeta: *shared\n"


def test_a_symlinked_flag_file_is_replaced_where_it_lives(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    real = tmp_path / "shared" / "flags.json"
    real.write_text(PLAIN_JSON.replace("@VALUE@", "true"))
    (tmp_path / "flags.json").symlink_to("shared/flags.json")
    config, ctx = _direct(tmp_path, "flags.json", format="json")

    result = FlagFileExecutor().execute(config, ctx)

    assert result.status == "succeeded", result.error
    assert (tmp_path / "flags.json").is_symlink()
    assert real.read_text() == PLAIN_JSON.replace("@VALUE@", "false")
