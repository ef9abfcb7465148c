"""The one base every notifier implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BodyFormat",
    "Delivery",
    "EventChannelConfig",
    "Message",
    "Notifier",
    "NotifierConfig",
]

BodyFormat = Literal["text", "markdown", "html"]


class NotifierConfig(BaseModel):
    """A channel: who it reaches (its audience), for which severities and services (empty:
    all), how its messages are written (``format``) and how long one may be (``max_chars``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kind: str
    audience: str = Field(default="on-call", min_length=1, max_length=200)
    severities: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    format: BodyFormat = "text"
    max_chars: int = Field(default=4000, ge=200, le=1_000_000)

    def prepared(self, base_dir: Path) -> NotifierConfig:
        """The channel made ready against the workspace folder (paths, secrets), or a
        ``ValueError`` saying what is wrong with it. Called once when the settings load."""
        return self

    def target(self) -> str:
        """Where the channel delivers, safe to show (no secret)."""
        return self.kind

    def scrub(self, text: str) -> str:
        """``text`` with the channel's secrets masked (a channel without secrets: as it is)."""
        return text


class EventChannelConfig(NotifierConfig):
    """A channel that carries timeline events (as JSON) rather than messages for people."""

    audience: str = Field(default="automation", min_length=1, max_length=200)
    events: list[str] = Field(default_factory=lambda: ["*"], min_length=1)

    def wants(self, kind: str) -> bool:
        """Whether an event of ``kind`` goes to this channel (``*`` and ``prefix.*`` match)."""
        for pattern in self.events:
            if pattern == "*" or pattern == kind:
                return True
            if pattern.endswith(".*") and kind.startswith(pattern[:-1]):
                return True
        return False


class Message(BaseModel):
    """A notification: subject and body, written in the channel's format."""

    subject: str
    body: str
    format: BodyFormat = "text"


class Delivery(BaseModel):
    """Whether a message got through, and what the channel said."""

    ok: bool
    detail: str


class Notifier(ABC):
    """Base of all notifiers."""

    slug: ClassVar[str]
    title: ClassVar[str]
    Config: ClassVar[type[NotifierConfig]]

    @abstractmethod
    def send(self, config: NotifierConfig, message: Message) -> Delivery:
        """Deliver one message."""
