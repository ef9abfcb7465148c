"""Length limits of free-text fields, checked before they reach the store."""

from __future__ import annotations

from incident_commander.errors import InvalidInput

__all__ = ["bounded"]


def bounded(what: str, value: str | None, limit: int) -> str | None:
    """``value`` stripped, or a clear error when it is longer than its column allows."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {limit} are allowed")
    return value
