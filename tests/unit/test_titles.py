"""Titles of incidents opened by alerts say each thing once."""

from __future__ import annotations

import pytest

from incident_commander.alerts.titles import MAX_TITLE, incident_title


@pytest.mark.parametrize(
    ("alertname", "summary", "title"),
    [
        ("HighErrorRate", "checkout answers 500", "HighErrorRate: checkout answers 500"),
        ("checkout errors", "checkout errors", "checkout errors"),
        ("checkout errors", "Checkout  errors ", "checkout errors"),
        ("checkout errors", "checkout errors: 12% of requests", "checkout errors: 12% of requests"),
        ("HighErrorRate", "", "HighErrorRate"),
        ("", "checkout answers 500", "checkout answers 500"),
        ("  High\nErrorRate ", " checkout\tdown ", "High ErrorRate: checkout down"),
    ],
)
def test_incident_title(alertname: str, summary: str, title: str) -> None:
    assert incident_title(alertname, summary) == title


def test_incident_title_is_bounded() -> None:
    assert len(incident_title("a", "b" * 2000)) == MAX_TITLE
