"""``ic notify test``: one test message through a configured channel or an Apprise URL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr, ValidationError

from incident_commander.clock import isoformat, utcnow
from incident_commander.notify.apprise_channel import AppriseNotifier
from incident_commander.notify.base import Delivery, EventChannelConfig, Message, NotifierConfig
from incident_commander.notify.messages import MessageKind, render
from incident_commander.plugins import NOTIFIERS

__all__ = ["channel_for", "send_test"]


def channel_for(
    channels: Sequence[NotifierConfig], name_or_url: str, base_dir: Path
) -> NotifierConfig:
    """The configured channel of this name, or a one-off Apprise channel for a URL.

    Raises ``LookupError`` (unknown name) or ``ValueError`` (a URL Apprise refuses).
    """
    for channel in channels:
        if channel.name == name_or_url:
            return channel
    if "://" not in name_or_url:
        names = ", ".join(c.name for c in channels) or "none configured"
        raise LookupError(
            f"no channel named {name_or_url!r} (channels: {names}; or an Apprise URL)"
        )
    try:
        config = AppriseNotifier.Config(name="test", url=SecretStr(name_or_url))
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    return config.prepared(base_dir)


def send_test(channel: NotifierConfig) -> Delivery:
    """Send the test message (a test event for an event webhook) and say what happened."""
    now = isoformat(utcnow())
    if isinstance(channel, EventChannelConfig):
        body = json.dumps({"event": "test", "at": now, "channel": channel.name})
        message = Message(subject="test", body=body)
    else:
        rendered = render(
            MessageKind.TEST,
            {"channel": channel.name, "audience": channel.audience, "sent_at": now},
            fmt=channel.format,
            max_chars=channel.max_chars,
        )
        message = Message(subject=rendered.subject, body=rendered.body, format=channel.format)
    try:
        delivery = NOTIFIERS.load(channel.kind)().send(channel, message)
    except Exception as exc:  # a broken channel is a failed test, not a crash
        delivery = Delivery(ok=False, detail=f"{type(exc).__name__}: {str(exc)[:500]}")
    return Delivery(ok=delivery.ok, detail=channel.scrub(delivery.detail))
