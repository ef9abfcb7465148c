"""Outgoing event webhooks: each timeline event a receiver subscribes to, POSTed as JSON and
signed like the webhooks ``ic serve`` accepts (``X-IC-Signature``, see ``signing``).

A delivery is tried up to ``tries`` times, waiting ``backoff_seconds`` and then twice as long
before each retry, while the receiver is unreachable or answers 5xx or 429; every try is named
in the delivery's detail. The outbox records the result and retries failed deliveries later.
"""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

import httpx
from pydantic import Field, SecretStr, field_validator

from incident_commander.notify.base import (
    Delivery,
    EventChannelConfig,
    Message,
    Notifier,
    NotifierConfig,
)
from incident_commander.signing import SIGNATURE_HEADER, sign

__all__ = ["EVENT_HEADER", "EventWebhookNotifier"]

EVENT_HEADER = "X-IC-Event"


class EventWebhookNotifier(Notifier):
    """POST timeline events as signed JSON to one URL."""

    slug = "webhook"
    title = "Outgoing event webhook"

    class Config(EventChannelConfig):
        kind: str = "webhook"
        url: str = Field(pattern=r"^https?://[^\s]+$")
        secret: SecretStr | None = None
        timeout_seconds: float = Field(default=5, gt=0, le=120)
        tries: int = Field(default=3, ge=1, le=10)
        backoff_seconds: float = Field(default=0.5, ge=0, le=60)

        @field_validator("secret")
        @classmethod
        def _from_environment(cls, value: SecretStr | None) -> SecretStr | None:
            """``$VAR`` reads the signing secret from the environment."""
            if value is None:
                return None
            raw = value.get_secret_value()
            if raw.startswith("$"):
                name = raw[1:].strip("{}")
                found = os.environ.get(name)
                if not found:
                    raise ValueError(f"environment variable {name} is not set")
                return SecretStr(found)
            return value

        def target(self) -> str:
            parts = urlsplit(self.url)
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"

    def send(self, config: NotifierConfig, message: Message) -> Delivery:
        assert isinstance(config, EventWebhookNotifier.Config)
        body = message.body.encode()
        path = urlsplit(config.url).path or "/"
        tried: list[str] = []
        wait = config.backoff_seconds
        for attempt in range(1, config.tries + 1):
            headers = {"Content-Type": "application/json", EVENT_HEADER: message.subject}
            if config.secret is not None:
                headers[SIGNATURE_HEADER] = sign(config.secret.get_secret_value(), body, path)
            try:
                answer = httpx.post(
                    config.url, content=body, headers=headers, timeout=config.timeout_seconds
                )
            except httpx.HTTPError as exc:
                tried.append(f"{type(exc).__name__}")
            else:
                tried.append(f"HTTP {answer.status_code}")
                if answer.is_success:
                    return Delivery(ok=True, detail=f"{config.target()}: {', '.join(tried)}")
                if answer.status_code < 500 and answer.status_code != 429:
                    break
            if attempt < config.tries:
                time.sleep(wait)
                wait *= 2
        return Delivery(ok=False, detail=f"{config.target()}: {', '.join(tried)}")
