"""The SLO burn as a severity input: `ic assess` measures it and the tree can use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_metric_checks import ALERTS, prometheus  # noqa: F401 (fixture)
from tests.prometheus_fixture import PASSWORD, PASSWORD_ENV, Monitoring
from tests.workspace import Workspace, free_port


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def _slo(prom: Monitoring, case: str, url: str | None = None) -> dict[str, Any]:
    return {
        "name": "slo",
        "kind": "slo-burn-rate",
        "critical": False,
        "url": url or prom.url,
        "basic_auth": prom.auth(),
        "target": 0.99,
        "errors_query": f'sum(rate(demo_request_errors_total{{case="{case}"}}[{{window}}]))',
        "total_query": f'sum(rate(demo_requests_total{{case="{case}"}}[{{window}}]))',
        "alerts": ALERTS,
    }


def _assess(tmp_path: Path, name: str, slo: dict[str, Any], **top: Any) -> tuple[Any, str]:
    root = tmp_path / name
    root.mkdir()
    ws = Workspace(root, f"sqlite:///{root / 'ic.db'}")
    ws.configure(service_extra={"recovery_checks": [slo]}, **top)
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--as", "on-call", env={PASSWORD_ENV: PASSWORD})
    severity = ws.read_json(incident, "severity-assessment.json")
    return severity, ws.read(incident, "incident-timeline.md")


def test_a_page_level_burn_in_production_is_the_top_level(
    tmp_path: Path,
    prometheus: Monitoring,  # noqa: F811
) -> None:
    top, timeline = _assess(tmp_path, "top", _slo(prometheus, "page"))
    second, _ = _assess(
        tmp_path, "second", _slo(prometheus, "page"), severity={"page_burn_is_top": False}
    )
    ticket, _ = _assess(tmp_path, "ticket", _slo(prometheus, "ticket"))

    assert top["severity"] == "SEV1"
    assert top["tree_path"] == ["production affected: yes", "SLO burning at the page level: yes"]
    assert (top["answers"]["slo_burn"], top["answers"]["slo_burn_rate"]) == ("page", 10.0)
    assert "SLO burn (slo): 20s: 10.0x, 5s: 10.0x" in timeline
    assert second["severity"] == "SEV2"
    assert second["tree_path"][-1] == "SLO burning at the page level: yes (second level by config)"
    assert (ticket["severity"], ticket["answers"]["slo_burn"]) == ("SEV2", "ticket")


def test_an_unreachable_prometheus_leaves_the_burn_unknown(
    tmp_path: Path,
    prometheus: Monitoring,  # noqa: F811
) -> None:
    down = _slo(prometheus, "page", url=f"http://127.0.0.1:{free_port()}")

    severity, timeline = _assess(tmp_path, "down", down)

    assert severity["severity"] == "SEV2"
    assert severity["answers"]["slo_burn"] is None
    assert "SLO burn rate unknown (slo): cannot reach Prometheus at" in timeline
