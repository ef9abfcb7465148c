"""What a new user types by mistake gets one clear answer, not a surprise."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from incident_commander.cli import answers
from incident_commander.cli.main import app
from tests.conftest import assert_clean_error, run_ic

SERVICE_OK = """#!/usr/bin/env bash
echo "switched to $2"
"""


def ic(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``ic`` in this process, as a user in ``cwd`` would, and return what they see."""
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(
            app,
            list(args),
            input=input,
            env={"COLUMNS": "200", "NO_COLOR": "1", "IC_CONFIG": None, "IC_DATABASE_URL": None},
        )
    finally:
        os.chdir(previous)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback\n" + "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, stderr)


def ok(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    result = ic(*args, cwd=cwd, input=input)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def write_config(root: Path, **service: Any) -> None:
    config = {
        "validation": {"window_seconds": 0.4, "interval_seconds": 0.2},
        "services": {
            "web": {
                "health_checks": [
                    {"name": "health", "kind": "http", "url": "http://127.0.0.1:9/health"}
                ],
                "rollback_options": [
                    {
                        "name": "switch",
                        "kind": "script",
                        "argv": ["scripts/switch.sh", "--release", "{release}"],
                    }
                ],
                **service,
            },
            "api": {},
        },
    }
    (root / "ic.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """A folder with an ic.yaml (services web and api) and a rollback script that succeeds."""
    folder = tmp_path / "ws"
    (folder / "scripts").mkdir(parents=True)
    script = folder / "scripts" / "switch.sh"
    script.write_text(SERVICE_OK)
    script.chmod(0o755)
    write_config(folder)
    yield folder


def declare(root: Path) -> str:
    ok("deploy", "record", "--service", "web", "--version", "v1", "--commit", "a1",
       "--at", "2026-01-01T00:00:00Z", cwd=root)  # fmt: skip
    ok("deploy", "record", "--service", "web", "--version", "v2", "--commit", "b2", cwd=root)
    result = ok("declare", "--title", "web answers 500", "--service", "web", "--json", cwd=root)
    return str(json.loads(result.stdout)["incident_id"])


def status(root: Path, incident: str) -> str:
    return str(json.loads(ok("show", incident, "--json", cwd=root).stdout)["status"])


# --- ic serve ------------------------------------------------------------------------------


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record whether ``ic serve`` went on to start the server, instead of starting it."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: calls.append(kw))
    return calls


@pytest.mark.parametrize(
    ("port", "limit"),
    [("70000", "less than or equal to 65535"), ("0", "greater than or equal to 1"), ("-1", "")],
)
def test_serve_refuses_a_port_out_of_range(
    root: Path, no_server: list[dict[str, Any]], port: str, limit: str
) -> None:
    result = ic("serve", f"--port={port}", "--no-probes", cwd=root)
    assert_clean_error(result, 2, "Invalid value for '--port'", limit)
    assert not no_server
    assert "Incident Commander on" not in result.stderr


def test_serve_on_a_port_in_use_says_so_before_anything_else(
    root: Path, no_server: list[dict[str, Any]]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ic("serve", "--port", str(port), "--no-probes", cwd=root)
    assert_clean_error(result, 7, f"cannot listen on 127.0.0.1:{port}", "in use")
    assert "Incident Commander on" not in result.stderr
    assert not no_server


# --- answers -------------------------------------------------------------------------------


def test_yes_and_no_together_are_refused_and_nothing_is_recorded(root: Path) -> None:
    incident = declare(root)
    ok("assess", incident, "--production", "--outage", "--as", "on-call", cwd=root)

    result = ic("approve", incident, "--no", "--yes", "--as", "on-call", cwd=root)

    assert_clean_error(result, 2, "--yes and --no cannot be given together")
    assert status(root, incident) == "triaged"
    for command in (["assess", "--production"], ["plan"], ["validate"], ["resolve"]):
        again = ic(command[0], incident, *command[1:], "--yes", "--no", cwd=root)
        assert_clean_error(again, 2, "--yes and --no cannot be given together")
    assert status(root, incident) == "triaged"


def test_approve_without_an_answer_off_a_terminal_fails_and_says_how(root: Path) -> None:
    incident = declare(root)
    ok("assess", incident, "--production", "--outage", "--as", "on-call", cwd=root)

    result = ic("approve", incident, cwd=root)

    assert_clean_error(result, 2, "--yes or --no")
    assert status(root, incident) == "triaged"


def test_the_prompt_says_which_answers_it_takes(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = declare(root)
    ok("assess", incident, "--production", "--outage", "--as", "on-call", cwd=root)
    monkeypatch.setattr(answers, "interactive", lambda: True)

    result = ok("approve", incident, input="maybe\nyes\non-call\nall down\n", cwd=root)

    assert result.stdout.count("Please answer yes or no.") == 1, result.stdout
    assert status(root, incident) == "planning"


# --- services, statuses, severities --------------------------------------------------------


def test_declare_refuses_an_unknown_service_and_names_the_known_ones(root: Path) -> None:
    result = ic("declare", "--title", "down", "--service", "nosuch", cwd=root)
    assert_clean_error(result, 2, "unknown service 'nosuch'", "api, web")
    assert "No incidents." in ok("list", cwd=root).stdout


def test_a_halted_incident_can_be_dismissed_with_a_reason(root: Path) -> None:
    write_config(
        root,
        rollback_options=[
            {"name": "gone", "kind": "script", "argv": ["scripts/missing.sh", "{release}"]}
        ],
    )
    incident = declare(root)
    ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes", cwd=root)
    ok("plan", incident, cwd=root)
    assert status(root, incident) == "halted"

    ok(
        "dismiss",
        incident,
        "--reason",
        "declared on the wrong service",
        "--as",
        "on-call",
        cwd=root,
    )

    shown = json.loads(ok("show", incident, "--json", cwd=root).stdout)
    assert shown["status"] == "false_positive"
    assert "wrong service" in json.dumps(shown["timeline"])


def test_list_refuses_an_unknown_status_or_severity(root: Path) -> None:
    result = ic("list", "--status", "bogus", cwd=root)
    assert_clean_error(result, 2, "unknown status 'bogus'", "awaiting_approval", "planning")
    result = ic("list", "--severity", "SEV9", cwd=root)
    assert_clean_error(result, 2, "unknown severity 'SEV9'", "SEV1, SEV2, SEV3, SEV4")
    assert ok("list", "--status", "planning", "--severity", "SEV1", cwd=root).stdout


def test_close_too_early_says_what_to_do_next(root: Path) -> None:
    incident = declare(root)
    ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes", cwd=root)
    ok("plan", incident, "--as", "on-call", "--yes", cwd=root)
    ok("execute", incident, cwd=root)
    assert status(root, incident) == "validating"

    result = ic("close", incident, "--as", "on-call", cwd=root)

    assert_clean_error(result, 4, "cannot move from validating", f"run `ic validate {incident}`")


# --- ic.yaml and the demo folder -----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"services:\n  web: {description: \xff\xfe}\n", "not UTF-8"),
        (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
        (b"# " + b"x" * (1024 * 1024) + b"\n", "larger than 1 MiB"),
    ],
    ids=["not-utf8", "deep", "huge"],
)
def test_an_unusable_config_is_a_clear_config_error(
    root: Path, content: bytes, needle: str
) -> None:
    (root / "ic.yaml").write_bytes(content)
    result = ic("list", cwd=root)
    assert_clean_error(result, 2, "ic.yaml", needle)


@pytest.mark.parametrize("where", ["/proc/ic-demo", "{tmp}/a-file/demo"])
def test_demo_in_a_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    workdir = where.format(tmp=tmp_path)
    result = ic("demo", "--workdir", workdir, "--by-hand", cwd=tmp_path)
    assert_clean_error(result, 2, f"cannot create {workdir}")


def test_demo_keeps_a_folder_with_incidents_made_by_hand(tmp_path: Path) -> None:
    practice = tmp_path / "practice"
    ok("demo", "--workdir", str(practice), "--by-hand", cwd=tmp_path)
    try:
        incident = ok(
            "declare", "--title", "answers 500", "--service", "demo-web", "--quiet", cwd=practice
        ).stdout.strip()

        result = ic("demo", "--workdir", str(practice), cwd=tmp_path)

        assert_clean_error(result, 2, "incidents recorded by hand", "--force")
        assert status(practice, incident) == "detected"
    finally:
        ic("demo", "--workdir", str(practice), "--stop", cwd=tmp_path)


def test_the_demo_hint_runs_as_printed_without_an_active_venv(tmp_path: Path) -> None:
    from incident_commander.cli.demo import explore_hint

    (tmp_path / "ic.yaml").write_text("services: {}\n")
    hint = explore_hint(str(tmp_path), "INC-20260101-0001")
    command = hint.split(": ", 1)[1]
    assert command.startswith("cd ") and " && " in command, hint

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "IC_CONFIG")}
    env["PATH"] = "/usr/bin:/bin"
    done = subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, check=False
    )
    # The command was found and ran: it says the incident is not there (this folder has none).
    assert done.returncode == 3, done.stdout + done.stderr
    assert "no incident with id 'INC-20260101-0001'" in done.stderr
    assert shlex.split(command.split(" && ")[1])[0] != "ic"


def test_the_console_script_reports_a_bad_config_in_one_line(root: Path) -> None:
    (root / "ic.yaml").write_bytes(b"services: \xff\n")
    result = run_ic("list", cwd=root)
    assert_clean_error(result, 2, "not UTF-8")
    assert "Internal error" not in result.stderr
