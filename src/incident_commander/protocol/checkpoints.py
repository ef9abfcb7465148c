"""An incident's extended-monitoring checkpoints, as recorded in its resolution."""

from __future__ import annotations

from typing import Any

from incident_commander.store.models import Incident

__all__ = ["cancel_remaining", "checkpoints", "store_checkpoints"]


def checkpoints(inc: Incident) -> list[dict[str, Any]]:
    """The incident's checkpoints as recorded (empty before resolution)."""
    found = (inc.resolution or {}).get("checkpoints")
    return [dict(c) for c in found] if isinstance(found, list) else []


def store_checkpoints(inc: Incident, points: list[dict[str, Any]]) -> None:
    """Write the checkpoints back (a new dict, so the change is seen and saved)."""
    inc.resolution = {**(inc.resolution or {}), "checkpoints": points}


def cancel_remaining(inc: Incident, why: str) -> int:
    """Mark every checkpoint not yet run as cancelled (a reopening or an early close)."""
    points = checkpoints(inc)
    cancelled = 0
    for point in points:
        if point["status"] in ("due", "running"):
            point.update(status="cancelled", note=why)
            cancelled += 1
    if cancelled:
        store_checkpoints(inc, points)
    return cancelled
