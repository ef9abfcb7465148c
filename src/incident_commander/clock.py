"""Time, always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["isoformat", "parse_time", "utcnow"]


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def isoformat(moment: datetime | None) -> str | None:
    """ISO 8601 with a ``Z`` suffix, microseconds kept; ``None`` stays ``None``."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """A time written by ``isoformat`` (or any ISO 8601 time; naive means UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
