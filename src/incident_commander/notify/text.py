"""Text from outside (alerts, people) made safe for a channel: escaped for its format, mentions
neutralised, and cut to its length limit."""

from __future__ import annotations

import html
import re

from incident_commander.notify.base import BodyFormat

__all__ = ["TRUNCATED", "escape_value", "neutralise_mentions", "truncate"]

TRUNCATED = "… (truncated)"

# "@channel", "@here", "@everyone", "@all" and "@someone" at the start of a word (not the middle
# of an e-mail address); Slack's "<!channel>", "<!subteam^…>" and "<@U123>"; Teams' "<at>".
_AT_MENTION = re.compile(r"(?<![\w.+-])@(?=[\w-])")
_ANGLE_MENTION = re.compile(r"<(?=[!@#])|<(?=at>)", re.IGNORECASE)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]#|<>~])")
_ZERO_WIDTH_SPACE = "\u200b"


def neutralise_mentions(text: str) -> str:
    """Keep the words but stop chat services from turning them into mentions (a zero-width
    space after ``@``, and ``<`` of ``<!channel>``-style mentions spelled as a lookalike)."""
    text = _AT_MENTION.sub("@" + _ZERO_WIDTH_SPACE, text)
    return _ANGLE_MENTION.sub("\u2039", text)  # single left-pointing angle quotation mark


def escape_value(value: object, fmt: BodyFormat) -> str:
    """A value from outside, as text that reads the same in ``fmt`` and can mention no one."""
    text = neutralise_mentions("" if value is None else str(value))
    if fmt == "html":
        return html.escape(text, quote=True)
    if fmt == "markdown":
        return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, saying so when it was cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(TRUNCATED))].rstrip() + TRUNCATED
