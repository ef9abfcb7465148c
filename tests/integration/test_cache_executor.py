"""The redis-cache executor against the real Redis on 127.0.0.1:6379.

Every test writes only keys under its own prefix (``ic-test-<random>:``) and deletes them
afterwards, so tests running in parallel, here or elsewhere, never see each other's keys.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from incident_commander.executors.base import ExecutionContext
from incident_commander.executors.cache import RedisCacheConfig, RedisCacheExecutor
from tests.workspace import Workspace, free_port, script_option

REDIS_URL = os.environ.get("IC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_REDIS = os.environ.get("IC_REQUIRE_REDIS") == "1"


def _redis_problem() -> str | None:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_timeout=3, socket_connect_timeout=3) as db:
            db.ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


_PROBLEM = _redis_problem()


@pytest.fixture
def db() -> Iterator[redis.Redis]:
    """A client of the test Redis (skipped when it is not there, unless it is required)."""
    if _PROBLEM is not None:
        if REQUIRE_REDIS:
            pytest.fail(f"IC_REQUIRE_REDIS=1 but Redis is unreachable: {_PROBLEM}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {_PROBLEM}")
    with redis.Redis.from_url(REDIS_URL) as client:
        yield client


@pytest.fixture
def prefix(db: redis.Redis) -> Iterator[str]:
    """This test's own key prefix; what is left under it is deleted afterwards."""
    mine = f"ic-test-{uuid.uuid4().hex[:12]}:"
    yield mine
    left = list(db.scan_iter(match=f"{mine}*", count=1000))
    if left:
        db.unlink(*left)


def seed(db: redis.Redis, keys: list[str]) -> None:
    with db.pipeline() as pipe:
        for key in keys:
            pipe.set(key, "cached")
        pipe.execute()


def existing(db: redis.Redis, pattern: str) -> set[str]:
    return {key.decode() for key in db.scan_iter(match=pattern, count=1000)}


def cache_option(name: str = "flush", **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "redis-cache", "url": REDIS_URL, **extra}


def to_plan(ws: Workspace, env: dict[str, str] | None = None) -> tuple[str, int]:
    """Declare and assess (SEV1), then plan with the mitigation approved; the plan's exit code."""
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    planned = ws.ic("plan", incident, "--yes", "--as", "on-call", env=env or {})
    return incident, planned.returncode


def checklist(ws: Workspace, incident: str) -> dict[str, dict[str, Any]]:
    items = ws.read_json(incident, "rollback-readiness-checklist.json")["items"]
    return {item["item"]: item for item in items}


def halt_reason(ws: Workspace, incident: str) -> str:
    shown = json.loads(ws.ok("show", incident, "--json").stdout)
    assert shown["status"] == "halted", shown
    return str(shown["halt_reason"])


def test_invalidation_unlinks_matching_keys_in_batches_and_counts_them(
    workspace: Workspace, db: redis.Redis, prefix: str
) -> None:
    ws = workspace
    pages = [f"{prefix}web:page:{n}" for n in range(250)]
    seed(db, [*pages, f"{prefix}fragment:a", f"{prefix}fragment:b", f"{prefix}session:1"])
    ws.configure(
        [
            cache_option(
                patterns=[f"{prefix}{{service}}:page:*", f"{prefix}fragment:*"], batch_size=40
            )
        ]
    )
    incident, planned = to_plan(ws)
    assert planned == 0
    reachable = checklist(ws, incident)[f"flush: Redis reachable at {REDIS_URL}"]
    assert reachable["passed"] and reachable["detail"].startswith("PONG in ")

    result = ws.ok("execute", incident)

    assert "flush: succeeded" in result.stdout
    assert existing(db, f"{prefix}*") == {f"{prefix}session:1"}
    run = ws.read_json(incident, "mitigation-execution-report.json")["executions"][0]
    assert run["status"] == "succeeded"
    commands = run["commands"]
    assert [c["argv"] for c in commands] == [
        ["redis", "SCAN+UNLINK", f"{prefix}web:page:*"],
        ["redis", "SCAN+UNLINK", f"{prefix}fragment:*"],
    ]
    assert commands[0]["stdout"].startswith(
        f"{REDIS_URL}: 250 key(s) matching '{prefix}web:page:*' unlinked"
    )
    assert "SCAN round(s) of up to 40" in commands[0]["stdout"]
    assert f"2 key(s) matching '{prefix}fragment:*' unlinked" in commands[1]["stdout"]
    assert "[AUTOMATION] flush executed: succeeded" in ws.read(incident, "incident-timeline.md")
    assert "invalidate a Redis cache on web via flush (redis-cache)" in ws.read(
        incident, "decision-log.json"
    )


@pytest.fixture
def limited_user(db: redis.Redis, prefix: str) -> Iterator[tuple[str, str]]:
    """A Redis user with a password who may PING and SCAN this test's keys, never UNLINK."""
    name = f"ic-test-{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    db.execute_command(
        "ACL", "SETUSER", name, "on", f">{password}", f"~{prefix}*", "+ping", "+scan"
    )
    yield name, password
    db.execute_command("ACL", "DELUSER", name)


def test_refused_unlink_falls_through_and_the_password_stays_secret(
    workspace: Workspace, db: redis.Redis, prefix: str, limited_user: tuple[str, str]
) -> None:
    ws = workspace
    user, password = limited_user
    seed(db, [f"{prefix}page:{n}" for n in range(5)])
    url = "redis://" + user + ":${CACHE_PASSWORD}@127.0.0.1:6379/0"
    ws.configure(
        [
            cache_option(url=url, patterns=[f"{prefix}page:*"]),
            script_option("second", "rollback_ok.sh"),
        ]
    )
    env = {"CACHE_PASSWORD": password}
    incident, planned = to_plan(ws, env)
    assert planned == 0
    items = checklist(ws, incident)
    assert items["flush: credentials present (CACHE_PASSWORD)"]["passed"]
    assert items["flush: Redis reachable at redis://127.0.0.1:6379/0"]["passed"]

    result = ws.ok("execute", incident, env=env)

    assert "flush: failed — redis: NoPermissionError" in result.stdout
    assert "second: succeeded" in result.stdout and ws.live_release() == "v1"
    assert len(existing(db, f"{prefix}page:*")) == 5
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [(r["option"], r["status"]) for r in runs] == [
        ("flush", "failed"),
        ("second", "succeeded"),
    ]
    assert "no permissions to run the 'unlink' command" in runs[0]["commands"][0]["error"]
    assert "Trying next: second" in ws.read(incident, "communication-log.md")
    for path in ws.evidence(incident).rglob("*"):
        if path.is_file():
            assert password not in path.read_text(), path


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose connections are accepted by the kernel and never answered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_unreachable_or_silent_redis_halts_naming_the_option_and_address(
    workspace: Workspace, silent_port: int
) -> None:
    ws = workspace
    closed = free_port()
    ws.configure(
        [
            cache_option("closed", url=f"redis://127.0.0.1:{closed}/0", patterns=["page:*"]),
            cache_option(
                "silent",
                url=f"redis://127.0.0.1:{silent_port}/2",
                patterns=["page:*"],
                timeout_seconds=0.5,
            ),
        ]
    )

    incident, planned = to_plan(ws)

    assert planned != 0
    items = checklist(ws, incident)
    refused = items[f"closed: Redis reachable at redis://127.0.0.1:{closed}/0"]
    assert refused["passed"] is False and "Connection refused" in refused["detail"]
    silent = items[f"silent: Redis reachable at redis://127.0.0.1:{silent_port}/2"]
    assert silent["passed"] is False and silent["detail"].startswith("TimeoutError")
    assert silent["method"] == "PING, 0.5 s timeout"
    reason = halt_reason(ws, incident)
    assert f"closed: Redis reachable at redis://127.0.0.1:{closed}/0" in reason
    assert "silent: Redis reachable at" in reason


def test_empty_or_match_all_patterns_and_unset_credentials_halt(
    workspace: Workspace, db: redis.Redis
) -> None:
    ws = workspace
    ws.configure(
        [
            cache_option("none"),
            cache_option("everything", patterns=["page:*", "**"]),
            cache_option(
                "locked", url="redis://:${CACHE_PASSWORD}@127.0.0.1:6379/0", patterns=["x:*"]
            ),
        ]
    )

    incident, planned = to_plan(ws, {"CACHE_PASSWORD": ""})

    assert planned != 0
    items = checklist(ws, incident)
    assert items["none: cache key patterns are set"]["detail"] == "no patterns configured"
    assert items["everything: cache key patterns are set"]["detail"] == (
        "pattern '**' matches every key of the database; set allow_all: true to allow it"
    )
    creds = items["locked: credentials present (CACHE_PASSWORD)"]
    assert (creds["passed"], creds["detail"]) == (False, "unset: CACHE_PASSWORD")
    assert "none: cache key patterns are set: no patterns configured" in halt_reason(ws, incident)


def test_allow_all_lets_a_match_all_pattern_pass_readiness(
    workspace: Workspace, db: redis.Redis
) -> None:
    ws = workspace
    # Never executed here: the test Redis is shared.
    ws.configure([cache_option("everything", patterns=["*"], allow_all=True)])

    incident, planned = to_plan(ws)

    assert planned == 0
    assert checklist(ws, incident)["everything: cache key patterns are set"]["passed"]


def test_deadline_stops_a_long_scan_and_the_next_option_runs(
    workspace: Workspace, db: redis.Redis, prefix: str
) -> None:
    ws = workspace
    seed(db, [f"{prefix}page:{n}" for n in range(300)])
    ws.configure(
        [
            cache_option(patterns=[f"{prefix}page:*"], batch_size=1, deadline_seconds=0.001),
            script_option("second", "rollback_ok.sh"),
        ]
    )
    incident, planned = to_plan(ws)
    assert planned == 0

    result = ws.ok("execute", incident)

    assert "flush: timed_out — redis: not done within 0.001 s" in result.stdout
    runs = ws.read_json(incident, "mitigation-execution-report.json")["executions"]
    assert [(r["option"], r["status"]) for r in runs] == [
        ("flush", "timed_out"),
        ("second", "succeeded"),
    ]
    assert existing(db, f"{prefix}page:*"), "the deadline left keys behind"


def test_state_check_tells_whether_matching_keys_are_gone(
    tmp_path: Path, db: redis.Redis, prefix: str
) -> None:
    ctx = ExecutionContext(
        incident_id="INC-1", service="web", base_dir=tmp_path, target_release="v1"
    )
    config = RedisCacheConfig(name="flush", url=REDIS_URL, patterns=[f"{prefix}{{release}}:*"])
    executor = RedisCacheExecutor()
    seed(db, [f"{prefix}v1:a", f"{prefix}v0:b"])

    before = executor.check_state(config, ctx)
    executor.execute(config, ctx)
    after = executor.check_state(config, ctx)
    away = RedisCacheConfig(
        name="flush", url=f"redis://127.0.0.1:{free_port()}/0", patterns=["x:*"]
    )
    unknown = executor.check_state(away, ctx)

    assert before.took_effect is False
    assert before.detail == f"'{prefix}v1:a' still matches '{prefix}v1:*' at {REDIS_URL}"
    assert after.took_effect is True and after.live == f"no key matches {prefix}v1:*"
    assert existing(db, f"{prefix}*") == {f"{prefix}v0:b"}
    assert unknown.took_effect is None and "Connection refused" in unknown.detail
