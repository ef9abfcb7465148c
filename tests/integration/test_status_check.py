"""`ic status-check` against real local HTTP servers: healthy, failing, hanging and refused."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import assert_clean_error, run_ic
from tests.workspace import free_port


class _Server(ThreadingHTTPServer):
    """A loopback server answering every GET with one status, or never (``status=None``)."""

    daemon_threads = True

    def __init__(self, status: int | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = status
        self.release = threading.Event()
        self.paths: list[str] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        if self.server.status is None:
            self.server.release.wait(30)  # hangs until the test ends
            return
        body = b"ok" if self.server.status < 400 else b"broken"
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[dict[str, _Server]]:
    started = {"healthy": _Server(200), "broken": _Server(500), "hanging": _Server(None)}
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


def _configure(root: Path, services: dict[str, Any]) -> None:
    (root / "ic.yaml").write_text(yaml.safe_dump({"services": services}, sort_keys=False))


def test_each_url_is_checked_at_once_and_critical_failures_fail(
    tmp_path: Path, servers: dict[str, _Server]
) -> None:
    refused = f"http://127.0.0.1:{free_port()}/health"
    hanging = servers["hanging"].url
    _configure(
        tmp_path,
        {
            "web": {"url": f"{servers['healthy'].url}/health"},
            "api": {"url": f"{servers['broken'].url}/status"},
            "search": {"url": f"{hanging}/a"},
            "billing": {"url": f"{hanging}/b"},
            "reports": {"url": f"{hanging}/c"},
            "legacy": {"url": refused},
        },
    )

    started = time.monotonic()
    result = run_ic("status-check", "--timeout", "2", "--json", cwd=tmp_path)
    elapsed = time.monotonic() - started

    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    probes = {p["service"]: p for p in report["probes"]}
    assert probes["web"]["ok"] and probes["web"]["status"] == 200
    assert probes["web"]["latency_ms"] is not None
    assert probes["api"]["failure"] == "HTTP 500 (expected < 400)"
    assert probes["api"]["status"] == 500
    for name in ("search", "billing", "reports"):
        assert probes[name]["failure"] == "no answer within 2 s"
        assert probes[name]["status"] is None
    assert probes["legacy"]["failure"] == "connection refused"
    assert sorted(report["critical_failures"]) == [
        "api/url",
        "billing/url",
        "legacy/url",
        "reports/url",
        "search/url",
    ]
    # Three hanging services, asked one after the other, would take at least 6 s.
    assert elapsed < 5, elapsed
    assert sorted(servers["hanging"].paths) == ["/a", "/b", "/c"]
    assert servers["healthy"].paths == ["/health"]


def test_table_shows_status_latency_and_failure(
    tmp_path: Path, servers: dict[str, _Server]
) -> None:
    _configure(
        tmp_path,
        {
            "web": {"url": f"{servers['healthy'].url}/health"},
            "api": {"url": f"{servers['broken'].url}/status"},
        },
    )

    result = run_ic("status-check", "--timeout", "2", cwd=tmp_path)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    web = next(line for line in lines if "│ web " in line)
    api = next(line for line in lines if "│ api " in line)
    assert "200" in web and " ms " in web and "ok" in web
    assert "500" in api and "FAIL HTTP 500 (expected < 400)" in api
    assert "Critical failures: api/url" in result.stdout


def test_health_checks_count_with_their_own_expectation_and_criticality(
    tmp_path: Path, servers: dict[str, _Server]
) -> None:
    healthy = f"{servers['healthy'].url}/health"
    _configure(
        tmp_path,
        {
            "web": {
                "url": healthy,
                "health_checks": [
                    {"name": "health", "kind": "http", "url": healthy},
                    {
                        "name": "docs",
                        "kind": "http",
                        "url": f"{servers['broken'].url}/docs",
                        "critical": False,
                    },
                    {
                        "name": "empty-answer",
                        "kind": "http",
                        "url": f"{servers['healthy'].url}/ping",
                        "expect_status": 204,
                        "critical": False,
                    },
                ],
            }
        },
    )

    result = run_ic("status-check", "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    by_name = {p["name"]: p for p in report["probes"]}
    # The service URL is the health check's URL: asked once, as the check.
    assert sorted(by_name) == ["docs", "empty-answer", "health"]
    assert by_name["health"]["ok"] and by_name["health"]["critical"]
    assert by_name["docs"]["failure"] == "HTTP 500 (expected 200)"
    assert by_name["empty-answer"]["failure"] == "HTTP 200 (expected 204)"
    assert report["ok"] and report["critical_failures"] == []
    assert servers["healthy"].paths.count("/health") == 1


def test_one_service_can_be_checked_alone(tmp_path: Path, servers: dict[str, _Server]) -> None:
    _configure(
        tmp_path,
        {
            "web": {"url": f"{servers['healthy'].url}/health"},
            "api": {"url": f"{servers['broken'].url}/status"},
        },
    )

    result = run_ic("status-check", "--service", "web", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Every critical URL is up." in result.stdout
    assert servers["broken"].paths == []


def test_nothing_to_check_and_unknown_service_are_clear_errors(tmp_path: Path) -> None:
    _configure(tmp_path, {"web": {"description": "no url"}})

    empty = run_ic("status-check", cwd=tmp_path)
    unknown = run_ic("status-check", "--service", "nope", cwd=tmp_path)

    assert_clean_error(empty, 2, "nothing to check: no service in ic.yaml has a url")
    assert_clean_error(unknown, 2, "unknown service 'nope' (ic.yaml knows: web)")
