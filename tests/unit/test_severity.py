"""The severity decision tree over every preset."""

from __future__ import annotations

import pytest

from incident_commander.protocol.severity import PRESETS, Answers, classify


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        ("SEV1-3", ["SEV1", "SEV2", "SEV2", "SEV3", "SEV3"]),
        ("SEV1-4", ["SEV1", "SEV2", "SEV2", "SEV3", "SEV4"]),
        ("P1-P4", ["P1", "P2", "P2", "P3", "P4"]),
        ("P0-P3", ["P0", "P1", "P1", "P2", "P3"]),
    ],
)
def test_tree_picks_the_level_per_preset(scheme: str, expected: list[str]) -> None:
    cases = [
        Answers(production_affected=True, data_loss=True),
        Answers(production_affected=True),
        Answers(production_affected=False, users_blocked=True),
        Answers(production_affected=False, correctness_affected=True),
        Answers(production_affected=False),
    ]
    assert [classify(a, PRESETS[scheme]).severity for a in cases] == expected


def test_path_explains_the_choice() -> None:
    result = classify(
        Answers(production_affected=True, outage=True, security_compromised=True), PRESETS["SEV1-4"]
    )
    assert result.path == ["production affected: yes", "service down / security compromised: yes"]


def test_raising_stops_at_the_top() -> None:
    scheme = PRESETS["P1-P4"]
    assert scheme.raised("P3") == "P2"
    assert scheme.raised("P1") == "P1"
    assert scheme.top == "P1"
