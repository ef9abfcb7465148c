"""The rules of the metric checks that need no Prometheus: windows, levels, config refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from incident_commander.checks.burn_rate import (
    WORKBOOK_ALERTS,
    BurnAssessment,
    BurnRateCheckConfig,
    burn_level,
)
from incident_commander.checks.durations import prometheus_duration
from incident_commander.config import load_settings
from incident_commander.errors import ConfigError

ERRORS = 'sum(rate(http_requests_total{code=~"5.."}[{window}]))'
TOTAL = "sum(rate(http_requests_total[{window}]))"


def slo(**extra: object) -> BurnRateCheckConfig:
    fields = {"name": "slo", "url": "http://prom:9090", "target": 0.999}
    return BurnRateCheckConfig.model_validate(
        {**fields, "errors_query": ERRORS, "total_query": TOTAL, **extra}
    )


@pytest.mark.parametrize(
    ("given", "written"),
    [("5m", "5m"), ("90m", "1h30m"), ("24h", "1d"), (3600, "1h"), ("72h", "3d"), (" 30s ", "30s")],
)
def test_windows_are_written_as_prometheus_does(given: object, written: str) -> None:
    assert prometheus_duration(given) == written


@pytest.mark.parametrize("given", ["5x", "1.5h", "", "h", 0, -60, True, 2.5])
def test_a_window_that_is_not_a_duration_is_refused(given: object) -> None:
    with pytest.raises(ValueError):
        prometheus_duration(given)


def test_the_defaults_are_the_workbooks_alerts() -> None:
    config = slo()
    assert [a.describe() for a in config.alerts] == [
        "14.4x over 1h and 5m",
        "6x over 6h and 30m",
        "3x over 1d and 2h",
        "1x over 3d and 6h",
    ]
    assert config.windows() == ["1h", "5m", "6h", "30m", "1d", "2h", "3d"]
    assert config.fail_at == "page"


def test_a_page_needs_both_windows_of_one_alert_above_its_factor() -> None:
    alerts = list(WORKBOOK_ALERTS)
    fast = {"1h": 16.2, "5m": 15.0, "6h": 3.1, "30m": 15.0, "1d": 1.0, "2h": 4.0, "3d": 0.4}
    level, tripped = burn_level(fast, alerts)
    assert level == "page" and [a.factor for a in tripped] == [14.4]
    over = BurnAssessment(level, fast, tripped).describe()
    assert over.startswith("1h: 16.2x, 5m: 15.0x, 6h: 3.1x, 30m: 15.0x, 1d: 1.0x, 2h: 4.0x")
    assert over.endswith("3d: 0.40x → page (14.4x over 1h and 5m)")

    # The burn has stopped: the long window still remembers it, the short one does not.
    stopped = {**fast, "5m": 0.2, "30m": 0.5}
    assert burn_level(stopped, alerts)[0] == "none"
    # Exactly at the factor is not above it.
    assert burn_level({**fast, "1h": 14.4}, alerts)[0] == "none"


def test_a_slow_burn_is_a_ticket_and_no_traffic_burns_nothing() -> None:
    alerts = list(WORKBOOK_ALERTS)
    slow = {"1h": 4.0, "5m": 4.0, "6h": 4.0, "30m": 4.0, "1d": 4.0, "2h": 4.0, "3d": 4.0}
    level, tripped = burn_level(slow, alerts)
    assert level == "ticket" and [a.factor for a in tripped] == [3, 1]
    idle: dict[str, float | None] = dict.fromkeys(slow)
    assert burn_level(idle, alerts) == ("none", [])
    assert BurnAssessment("none", {"1h": None}, []).as_dict() == {
        "level": "none",
        "burn_rates": {"1h": None},
        "tripped": [],
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"target": 1}, "target\n  Input should be less than 1"),
        ({"target": 0}, "target\n  Input should be greater than 0"),
        ({"target": 99.9}, "target\n  Input should be less than 1"),
        ({"errors_query": "sum(rate(errors[5m]))"}, "must place the window with {window}"),
        ({"alerts": []}, "alerts\n  List should have at least 1 item"),
        (
            {"alerts": [{"level": "page", "factor": 2, "long_window": "1h", "short_window": "5q"}]},
            "'5q' is not a duration",
        ),
        (
            {
                "alerts": [
                    {"level": "ticket", "factor": 2, "long_window": "1h", "short_window": "5m"}
                ]
            },
            "fail_at is 'page' but no alert has that level or above",
        ),
        ({"bearer_token": "t", "basic_auth": {"username": "u", "password": "p"}}, "not both"),
    ],
)
def test_a_bad_slo_config_is_refused_naming_the_key(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as error:
        slo(**extra)
    assert message in str(error.value)


def test_ic_yaml_refuses_a_bad_metric_check_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "ic.yaml"
    path.write_text(
        "services:\n  web:\n    recovery_checks:\n"
        "      - {name: errors, kind: prometheus, url: 'http://prom:9090', query: up,"
        " operator: '=<', threshold: 1}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert "services.web.recovery_checks.0.operator" in error.value.message
    assert "'<', '<=', '>', '>=' or '=='" in error.value.message


def test_ic_yaml_refuses_credentials_in_a_prometheus_url_without_repeating_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ic.yaml"
    path.write_text(
        "services:\n  web:\n    recovery_checks:\n"
        "      - {name: slo, kind: slo-burn-rate, url: 'http://admin:hunter2@prom:9090',"
        " target: 0.99, errors_query: 'e[{window}]', total_query: 't[{window}]'}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert "services.web.recovery_checks.0.url: put credentials in basic_auth" in (
        error.value.message
    )
    assert "hunter2" not in error.value.message
