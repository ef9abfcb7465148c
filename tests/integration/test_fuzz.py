"""Thousands of generated requests: no input produces a 500, every refusal is a JSON error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server import Server

ALLOWED = {200, 201, 400, 401, 404, 409, 413, 415, 422}
PATHS = ["/webhooks/alertmanager", "/webhooks/grafana", "/webhooks/events", "/webhooks/generic"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=50),
    st.sampled_from(
        [
            "firing",
            "resolved",
            "trigger",
            "resolve",
            "2026-11-23T03:00:00Z",
            "$(id)",
            "../..",
            "é" * 3,
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
labels = st.dictionaries(
    st.sampled_from(["alertname", "service", "severity", "x"]), st.text(max_size=30), max_size=4
)
alert = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved", "pending", 3]), "labels": labels},
    optional={
        "annotations": st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=3),
        "startsAt": st.sampled_from(["2026-11-23T03:00:00Z", "yesterday", 0]),
        "endsAt": st.sampled_from(["2026-11-23T04:00:00Z", None, "0001-01-01T00:00:00Z"]),
        "fingerprint": st.text(max_size=200),
    },
)
alertmanager = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved", "other"]),
        "alerts": st.lists(alert, max_size=4),
    },
    optional={
        "version": st.just("4"),
        "groupLabels": labels,
        "commonLabels": labels,
        "truncatedAlerts": st.integers(-5, 5),
        "extra": json_values,
    },
)
event = st.fixed_dictionaries(
    {"event_action": st.sampled_from(["trigger", "acknowledge", "resolve", "explode"])},
    optional={
        "dedup_key": st.text(max_size=300),
        "routing_key": st.text(max_size=40),
        "payload": st.fixed_dictionaries(
            {
                "summary": st.text(max_size=40),
                "source": st.text(max_size=20),
                "severity": st.sampled_from(["critical", "error", "warning", "info", "x"]),
            },
            optional={"component": st.text(max_size=20), "custom_details": json_values},
        ),
    },
)
generic = st.fixed_dictionaries(
    {
        "alerts": st.lists(
            st.fixed_dictionaries(
                {"summary": st.text(max_size=40), "service": st.text(max_size=140)},
                optional={
                    "status": st.sampled_from(["firing", "resolved", "?"]),
                    "details": json_values,
                    "labels": labels,
                },
            ),
            max_size=3,
        )
    },
)


def _check(response: Any) -> None:
    assert response.status_code in ALLOWED, (response.status_code, response.text)
    if response.status_code >= 400:
        assert "error" in response.json()


@pytest.mark.slow
def test_generated_requests_never_crash_the_server(tmp_path: Path) -> None:
    server = Server(tmp_path, {"IC_DATABASE_URL": f"sqlite:///{tmp_path / 'ic.db'}"}, "--no-probes")
    client = server.client
    try:

        @settings(
            max_examples=1500,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(
            path=st.sampled_from(PATHS),
            body=json_values,
            content_type=st.sampled_from(["application/json", "text/plain", "", "x/y+json"]),
        )
        def arbitrary(path: str, body: Any, content_type: str) -> None:
            data = json.dumps(body).encode()
            _check(client.post(path, content=data, headers={"content-type": content_type}))

        @settings(
            max_examples=1500,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(
            choice=st.one_of(
                st.tuples(st.just("/webhooks/alertmanager"), alertmanager),
                st.tuples(st.just("/webhooks/grafana"), alertmanager),
                st.tuples(st.just("/webhooks/events"), event),
                st.tuples(st.just("/webhooks/generic"), generic),
            )
        )
        def shaped(choice: tuple[str, Any]) -> None:
            data = json.dumps(choice[1]).encode()
            _check(
                client.post(choice[0], content=data, headers={"content-type": "application/json"})
            )

        @settings(max_examples=300, deadline=None, database=None)
        @given(raw=st.binary(max_size=200))
        def garbage(raw: bytes) -> None:
            _check(
                client.post(
                    "/webhooks/generic", content=raw, headers={"content-type": "application/json"}
                )
            )

        arbitrary()
        shaped()
        garbage()
        metrics = client.get("/metrics").text
        assert "ic_requests_rejected_total" in metrics
    finally:
        log = server.stop()
    assert "Traceback" not in log
