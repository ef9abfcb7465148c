"""The one base every notifier implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Delivery", "Message", "Notifier", "NotifierConfig"]


class NotifierConfig(BaseModel):
    """A channel: who it reaches and for which severities (empty: all)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kind: str
    audience: str = "on-call"
    severities: list[str] = Field(default_factory=list)


class Message(BaseModel):
    """A notification: subject and body."""

    subject: str
    body: str


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
