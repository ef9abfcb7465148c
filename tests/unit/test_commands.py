"""Commands are argv lists filled only with safe identifiers; secrets never show."""

from __future__ import annotations

import pytest

from incident_commander.executors.base import render_argv
from incident_commander.redact import MASK, redact


def test_placeholders_fill_with_identifiers() -> None:
    argv = render_argv(
        ["deploy.sh", "--release", "{release}", "--svc={service}"],
        {"release": "v1.2.3", "service": "web"},
    )
    assert argv == ["deploy.sh", "--release", "v1.2.3", "--svc=web"]


@pytest.mark.parametrize(
    "hostile", ["v1; rm -rf /", "$(reboot)", "../../etc", "a b", "", "`id`", "-rf", "x" * 200]
)
def test_hostile_values_never_reach_a_command(hostile: str) -> None:
    with pytest.raises(ValueError, match="no safe value"):
        render_argv(["rollback.sh", "{release}"], {"release": hostile})


def test_format_syntax_is_not_evaluated() -> None:
    assert render_argv(["{release.__class__}"], {"release": "v1"}) == ["{release.__class__}"]


def test_redaction_masks_values_and_secret_looking_keys() -> None:
    assert redact("token=abc123 ok", ["abc123"]) == f"token={MASK} ok"
    assert redact("anything", [], key="DEPLOY_TOKEN") == MASK
    assert redact("visible", [], key="REGION") == "visible"
