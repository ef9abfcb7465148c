"""Message text: escaping per format, mentions neutralised, limits, routing, and every template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incident_commander.notify.base import BodyFormat, NotifierConfig
from incident_commander.notify.messages import MessageKind, public_state, render
from incident_commander.notify.routing import recipients
from incident_commander.notify.text import escape_value, neutralise_mentions, truncate
from incident_commander.protocol.outbox import RETRY_AFTER_SECONDS, retry_due

CONTEXT = {
    "incident": {
        "id": "INC-1",
        "title": "checkout *down* @here",
        "service": "web",
        "severity": "SEV1",
        "status": "triaged",
        "symptoms": ["<b>500</b>"],
    },
    "public_state": "Investigating",
    "suspect": None,
    "link": "https://ic.example/api/v1/incidents/INC-1",
    "text": "<!channel> all good",
    "by": "ana",
    "meaning": "outage",
    "response": "immediate",
    "approver": "ana",
    "approval": "severity confirmation",
    "kind": "severity",
    "prompt": "[SEVERITY CONFIRMATION] Incident classified as SEV1. Approve? (yes/no)",
    "cli_yes": "ic approve INC-1 --kind severity --yes --as <your name>",
    "cli_no": "ic approve INC-1 --kind severity --no --as <your name> --reason <why>",
    "api_route": "/api/v1/incidents/INC-1/approvals",
    "option": "switch",
    "option_kind": "release-symlink",
    "target_release": "v1",
    "ok": False,
    "error": "exit code 3",
    "next_option": None,
    "summary": "critical checks passed 100%",
    "action": "switch: v2 → v1",
    "reason": "alert fired again",
    "headline": "note",
    "channel": "pager",
    "audience": "responders",
    "sent_at": "now",
}


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_every_shipped_template_renders_without_leaking_a_mention(
    kind: MessageKind, fmt: BodyFormat
) -> None:
    message = render(kind, CONTEXT, fmt=fmt)
    assert message.problem is None and message.subject and message.body
    for raw in ("@here", "<!channel>"):
        assert raw not in message.subject + message.body
    if fmt != "text":  # markup from outside is shown, never interpreted
        assert "<b>500</b>" not in message.body


def test_values_are_escaped_for_each_format() -> None:
    assert escape_value("<b>x</b> & *y*", "html") == "&lt;b&gt;x&lt;/b&gt; &amp; *y*"
    assert escape_value("*y* [a](b) _z_", "markdown") == r"\*y\* \[a\](b) \_z\_"
    assert escape_value("*y*", "text") == "*y*"


def test_mentions_are_neutralised_but_addresses_kept() -> None:
    assert neutralise_mentions("@channel and @here") == "@\u200bchannel and @\u200bhere"
    assert neutralise_mentions("<!here> <@U123> <at>x</at>") == (
        "\u2039!here> \u2039@\u200bU123> \u2039at>x</at>"
    )
    assert neutralise_mentions("ops@example.com") == "ops@example.com"


def test_truncation_says_so_and_keeps_the_limit() -> None:
    assert truncate("short", 10) == "short"
    cut = truncate("x" * 500, 200)
    assert len(cut) <= 200 and cut.endswith("… (truncated)")


def test_a_template_may_write_a_mention_itself(tmp_path: Path) -> None:
    (tmp_path / "resolved.j2").write_text(
        "{% block subject %}@here {{ incident.title }}{% endblock %}"
        "{% block body %}ok{% endblock %}"
    )
    message = render(MessageKind.RESOLVED, CONTEXT, overrides=tmp_path)
    assert message.subject == "@here checkout *down* @\u200bhere"


def test_public_states_cover_the_lifecycle() -> None:
    assert [public_state(s) for s in ("detected", "planning", "validating", "closed")] == [
        "Investigating",
        "Identified",
        "Monitoring",
        "Resolved",
    ]


def _channel(name: str, audience: str, **extra: object) -> NotifierConfig:
    return NotifierConfig(name=name, kind="console", audience=audience, **extra)  # type: ignore[arg-type]


def test_routing_by_severity_service_and_public_audience() -> None:
    channels = [
        _channel("pager", "responders"),
        _channel("room", "stakeholders", services=["api"]),
        _channel("digest", "digest"),
        _channel("status", "customers"),
    ]
    routing = {"SEV1": ["responders", "stakeholders"], "SEV4": ["digest"]}

    def names(severity: str, service: str = "web", public: bool = False) -> list[str]:
        chosen = recipients(channels, routing, severity=severity, service=service, public=public)
        return [c.name for c in chosen]

    assert names("SEV1") == ["pager"]
    assert names("SEV1", service="api") == ["pager", "room"]
    assert names("SEV4") == ["digest"]
    assert names("SEV2") == ["pager", "digest"]  # not routed: every internal audience
    assert names("SEV2", public=True) == ["pager", "digest", "status"]


def test_failed_messages_wait_longer_after_each_try() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    just = now - timedelta(seconds=RETRY_AFTER_SECONDS - 1)
    assert not retry_due(1, just, now)
    assert retry_due(1, now - timedelta(seconds=RETRY_AFTER_SECONDS), now)
    assert not retry_due(2, now - timedelta(seconds=RETRY_AFTER_SECONDS * 1.5), now)
    assert retry_due(2, now - timedelta(seconds=RETRY_AFTER_SECONDS * 2), now)
