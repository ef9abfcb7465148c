"""The tcp, prometheus and slo-burn-rate checks against real sockets and a real Prometheus.

One Prometheus (Debian's package) for the module scrapes a real exporter every second; the
exporter's counters hold a known share of errors per case (see ``tests/prometheus_fixture``),
so each burn rate below is asserted exactly.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from incident_commander.checks.burn_rate import BurnRateCheckConfig, assess_burn
from incident_commander.checks.prometheus import PrometheusCheckConfig
from incident_commander.checks.tcp import TcpCheckConfig
from incident_commander.checks.window import run_check
from incident_commander.demo.monitoring import ensure_installed
from tests.conftest import machine_lock
from tests.prometheus_fixture import (
    PASSWORD,
    PASSWORD_ENV,
    Monitoring,
    run_monitoring,
    silent_server,
)
from tests.workspace import Workspace, free_port

# The workbook's four alerts, on windows of seconds.
ALERTS = [
    {"level": "page", "factor": 14.4, "long_window": "20s", "short_window": "5s"},
    {"level": "page", "factor": 6, "long_window": "30s", "short_window": "6s"},
    {"level": "ticket", "factor": 3, "long_window": "1m", "short_window": "8s"},
    {"level": "ticket", "factor": 1, "long_window": "2m", "short_window": "10s"},
]


def ratio_query(case: str, window: str = "5s") -> str:
    return (
        f'sum(rate(demo_request_errors_total{{case="{case}"}}[{window}])) / '
        f'sum(rate(demo_requests_total{{case="{case}"}}[{window}]))'
    )


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitoring]:
    with machine_lock("debian-packages"):  # one apt-get at a time, across workers and runs
        problem = ensure_installed()
    if problem:
        pytest.skip(problem)
    yield from run_monitoring(tmp_path_factory.mktemp("prometheus"))


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def promql_check(prom: Monitoring, query: str, **extra: Any) -> PrometheusCheckConfig:
    fields = {"name": "errors", "url": prom.url, "query": query, "basic_auth": prom.auth()}
    return PrometheusCheckConfig.model_validate({**fields, **extra})


def burn_check(prom: Monitoring, case: str, **extra: Any) -> BurnRateCheckConfig:
    fields = {
        "name": "slo",
        "url": prom.url,
        "basic_auth": prom.auth(),
        "target": 0.99,
        "errors_query": f'sum(rate(demo_request_errors_total{{case="{case}"}}[{{window}}]))',
        "total_query": f'sum(rate(demo_requests_total{{case="{case}"}}[{{window}}]))',
        "alerts": ALERTS,
    }
    return BurnRateCheckConfig.model_validate({**fields, **extra})


# --- tcp ---------------------------------------------------------------------------------


def test_tcp_check_connects_is_refused_and_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=0) as listener:
        port = listener.getsockname()[1]
        connected = run_check(TcpCheckConfig(name="db", host="127.0.0.1", port=port))
        assert connected.passed and connected.observed.startswith("connected in ")
        assert connected.expected == f"a TCP connection to 127.0.0.1:{port} within 5 s"
        # The backlog is full (the check's connection was never accepted): the next SYN waits.
        timed_out = run_check(
            TcpCheckConfig(name="db", host="127.0.0.1", port=port, timeout_seconds=0.3)
        )
    assert not timed_out.passed and timed_out.observed == "timed out after 0.3 s"
    assert timed_out.duration_ms >= 300
    refused = run_check(TcpCheckConfig(name="db", host="127.0.0.1", port=free_port()))
    assert not refused.passed and refused.observed == "refused"
    unknown = run_check(TcpCheckConfig(name="db", host="no-such-host.invalid", port=5432))
    assert not unknown.passed and unknown.observed.startswith("cannot resolve no-such-host.invalid")


# --- prometheus ----------------------------------------------------------------------------


def test_prometheus_check_judges_a_controlled_error_ratio(prometheus: Monitoring) -> None:
    query = ratio_query("ticket")
    within = run_check(promql_check(prometheus, query, operator="<", threshold=0.1))
    assert within.passed, within.observed
    assert within.observed == "value 0.05"
    assert within.expected == f"{query} < 0.1 for every series (an empty result counts as fail)"

    over = run_check(promql_check(prometheus, query, operator="<=", threshold=0.01))
    assert not over.passed and over.observed == "value 0.05"
    none = run_check(promql_check(prometheus, ratio_query("healthy"), operator="==", threshold=0))
    assert none.passed and none.observed == "value 0"


def test_prometheus_check_names_each_series_that_fails(prometheus: Monitoring) -> None:
    query = 'demo_error_ratio{shard=~"a|b|c"}'
    failed = run_check(promql_check(prometheus, query, operator="<", threshold=0.05))
    assert not failed.passed
    assert failed.observed.startswith("1 of 3 series fail: demo_error_ratio{")
    assert failed.observed.endswith('job="exporter", shard="c"} = 0.2')
    passed = run_check(promql_check(prometheus, query, operator="<=", threshold=0.2))
    assert passed.passed and passed.observed == "3 series, all <= 0.2"


def test_prometheus_check_treats_an_empty_result_as_configured(prometheus: Monitoring) -> None:
    query = 'demo_error_ratio{shard="nowhere"}'
    failed = run_check(promql_check(prometheus, query, operator="<", threshold=1))
    assert not failed.passed
    assert failed.observed == "empty result (no series), which counts as fail"
    passed = run_check(promql_check(prometheus, query, operator="<", threshold=1, on_empty="pass"))
    assert passed.passed and passed.observed == "empty result (no series), which counts as pass"


def test_prometheus_check_records_a_bad_query_and_non_numbers(prometheus: Monitoring) -> None:
    broken = "sum(rate(demo_requests_total[5s])"
    bad = run_check(promql_check(prometheus, broken, operator="<", threshold=1))
    assert not bad.passed
    assert bad.observed.startswith(f"Prometheus rejected the query {broken!r}: ")
    assert "parse error" in bad.observed

    nan = run_check(promql_check(prometheus, "0 / 0", operator="<", threshold=1))
    assert not nan.passed and nan.observed == "value NaN (not a number)"
    inf = run_check(promql_check(prometheus, "vector(1) / 0", operator=">", threshold=0))
    assert not inf.passed and inf.observed == "value +Inf (not a finite number)"
    idle = run_check(promql_check(prometheus, ratio_query("idle"), operator="<", threshold=1))
    assert not idle.passed and idle.observed == "value NaN (not a number)"

    ranged = run_check(promql_check(prometheus, "up[1m]", operator="<", threshold=1))
    assert not ranged.passed and "returns a range vector" in ranged.observed


def test_prometheus_check_credentials_stay_out_of_the_result(
    prometheus: Monitoring, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = ratio_query("healthy")
    wrong = promql_check(
        prometheus, query, operator="<", threshold=1, basic_auth=prometheus.auth("$WRONG_PW")
    )
    monkeypatch.setenv("WRONG_PW", "not-the-password")
    refused = run_check(wrong)
    assert not refused.passed
    assert refused.observed == "Prometheus refused the credentials (HTTP 401)"
    monkeypatch.delenv("WRONG_PW")
    unset = run_check(wrong)
    assert unset.observed == "the basic auth password names $WRONG_PW, which is not set"
    for result in (refused, unset):
        assert "not-the-password" not in result.model_dump_json()
        assert PASSWORD not in result.model_dump_json()


class _RecordingPrometheus(BaseHTTPRequestHandler):
    """Answers every query with the scalar 1 and keeps the Authorization header it got."""

    seen: list[str | None]

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization"))
        body = json.dumps(
            {"status": "success", "data": {"resultType": "scalar", "result": [0, "1"]}}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_prometheus_check_sends_a_bearer_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _RecordingPrometheus.seen = []
    with ThreadingHTTPServer(("127.0.0.1", 0), _RecordingPrometheus) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        monkeypatch.setenv("PROM_TOKEN", "tok-123456")
        config = PrometheusCheckConfig.model_validate(
            {
                "name": "up",
                "url": f"http://127.0.0.1:{server.server_address[1]}",
                "query": "vector(1)",
                "operator": "==",
                "threshold": 1,
                "bearer_token": "$PROM_TOKEN",
            }
        )
        result = run_check(config)
        server.shutdown()
        thread.join(timeout=5)
    assert result.passed and result.observed == "value 1"
    assert _RecordingPrometheus.seen == ["Bearer tok-123456"]
    assert "tok-123456" not in result.model_dump_json()


def test_prometheus_down_or_silent_is_a_recorded_failure() -> None:
    down_url = f"http://127.0.0.1:{free_port()}"
    down = run_check(
        PrometheusCheckConfig(name="p", url=down_url, query="up", operator="==", threshold=1)
    )
    assert not down.passed
    assert down.observed.startswith(f"cannot reach Prometheus at {down_url}: ConnectError")
    with silent_server() as port:
        slow = run_check(
            PrometheusCheckConfig(
                name="p",
                url=f"http://127.0.0.1:{port}",
                query="up",
                operator="==",
                threshold=1,
                timeout_seconds=0.5,
            )
        )
    assert not slow.passed
    assert slow.observed == f"Prometheus at http://127.0.0.1:{port} did not answer within 0.5 s"


# --- slo-burn-rate ---------------------------------------------------------------------------


def test_burn_rate_of_ten_percent_errors_against_99_percent_pages(prometheus: Monitoring) -> None:
    config = burn_check(prometheus, "page")
    assessment = assess_burn(config)
    assert list(assessment.rates) == ["20s", "5s", "30s", "6s", "1m", "8s", "2m", "10s"]
    for window, rate in assessment.rates.items():
        assert rate == pytest.approx(10.0, rel=1e-9), window
    assert assessment.level == "page"
    assert [alert.factor for alert in assessment.tripped] == [6, 3, 1]

    result = run_check(config)
    assert not result.passed
    assert result.observed == (
        "20s: 10.0x, 5s: 10.0x, 30s: 10.0x, 6s: 10.0x, 1m: 10.0x, 8s: 10.0x, 2m: 10.0x, "
        "10s: 10.0x → page (6x over 30s and 6s)"
    )
    assert result.expected == (
        "no page-level burn of the 99% SLO (14.4x over 20s and 5s; 6x over 30s and 6s)"
    )


def test_burn_rate_below_the_page_level_passes_as_a_recovery_check(
    prometheus: Monitoring,
) -> None:
    ticket = burn_check(prometheus, "ticket")
    assessment = assess_burn(ticket)
    assert assessment.level == "ticket"
    assert all(rate == pytest.approx(5.0, rel=1e-9) for rate in assessment.rates.values())
    assert run_check(ticket).passed
    strict = run_check(burn_check(prometheus, "ticket", fail_at="ticket"))
    assert not strict.passed and strict.observed.endswith(
        "→ ticket (3x over 1m and 8s; 1x over 2m and 10s)"
    )

    healthy = run_check(burn_check(prometheus, "healthy"))
    assert healthy.passed and healthy.observed.startswith("20s: 0.0x, 5s: 0.0x")
    assert healthy.observed.endswith("→ none")
    idle = run_check(burn_check(prometheus, "idle"))
    assert idle.passed and idle.observed.startswith("20s: no traffic, 5s: no traffic")


def test_burn_rate_failures_are_recorded_not_raised(prometheus: Monitoring) -> None:
    several = burn_check(
        prometheus,
        "page",
        errors_query="sum by (case) (rate(demo_request_errors_total[{window}]))",
    )
    result = run_check(several)
    assert not result.passed
    assert result.observed == (
        "the query 'sum by (case) (rate(demo_request_errors_total[20s]))' answered 4 series; "
        "aggregate it to one (e.g. with sum)"
    )
    broken = run_check(burn_check(prometheus, "page", total_query="sum(rate(x[{window}])"))
    assert broken.observed.startswith("Prometheus rejected the query 'sum(rate(x[20s])': ")
    down = run_check(burn_check(prometheus, "page", url=f"http://127.0.0.1:{free_port()}"))
    assert not down.passed and down.observed.startswith("cannot reach Prometheus at ")


# --- as a recovery check, through `ic validate` ----------------------------------------------


def _validated(tmp_path: Path, prometheus: Monitoring, recovery: list[dict[str, Any]]) -> Any:
    ws = Workspace(tmp_path, f"sqlite:///{tmp_path / 'ic.db'}")
    ws.configure(service_extra={"recovery_checks": recovery})
    ws.start()
    try:
        incident = ws.declare()
        env = {PASSWORD_ENV: PASSWORD}
        ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
        ws.ok("plan", incident, "--yes", "--as", "on-call", env=env)
        ws.ok("execute", incident, env=env)
        result = ws.ic("validate", incident, env=env)
        evidence = ws.evidence(incident)
        return result, ws.read_json(incident, "recovery-validation.json"), evidence
    finally:
        ws.stop()


def test_prometheus_recovery_checks_are_recorded_by_validation(
    tmp_path: Path, prometheus: Monitoring
) -> None:
    prometheus.ratio.labels(shard="checkout").set(0.2)
    prometheus.wait_gauge("checkout", 0.2)
    auth = prometheus.auth()
    recovery = [
        {
            "name": "checkout-errors",
            "kind": "prometheus",
            "url": prometheus.url,
            "basic_auth": auth,
            "query": 'max(demo_error_ratio{shard="checkout"})',
            "operator": "<",
            "threshold": 0.05,
        },
        {
            "name": "slo",
            "kind": "slo-burn-rate",
            "critical": False,
            "url": prometheus.url,
            "basic_auth": auth,
            "target": 0.99,
            "errors_query": 'sum(rate(demo_request_errors_total{case="ticket"}[{window}]))',
            "total_query": 'sum(rate(demo_requests_total{case="ticket"}[{window}]))',
            "alerts": ALERTS[:2],
        },
    ]

    result, validation, evidence = _validated(tmp_path, prometheus, recovery)

    assert result.returncode == 1, result.stdout + result.stderr
    checks = validation["attempts"][-1]["checks"]
    assert checks["health"]["pass_rate"] == 1.0
    errors = checks["checkout-errors"]
    assert errors["pass_rate"] == 0.0 and errors["last_observed"] == "value 0.2"
    assert errors["expected"] == (
        'max(demo_error_ratio{shard="checkout"}) < 0.05 for every series '
        "(an empty result counts as fail)"
    )
    slo = checks["slo"]
    assert slo["critical"] is False and slo["pass_rate"] == 1.0
    assert slo["last_observed"] == "20s: 5.0x, 5s: 5.0x, 30s: 5.0x, 6s: 5.0x → none"
    for path in evidence.rglob("*"):
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path.name

    prometheus.ratio.labels(shard="checkout").set(0.01)
    prometheus.wait_gauge("checkout", 0.01)
    retry, validation, _ = _validated(tmp_path / "again", prometheus, recovery[:1])
    assert retry.returncode == 0, retry.stdout + retry.stderr
    errors = validation["attempts"][-1]["checks"]["checkout-errors"]
    assert errors["pass_rate"] == 1.0 and errors["last_observed"] == "value 0.01"
