"""Durations in Prometheus's syntax (``5m``, ``1h30m``, ``3d``), as the metric checks write them."""

from __future__ import annotations

import re

__all__ = ["duration_seconds", "prometheus_duration"]

_UNITS = (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_SECONDS = dict(_UNITS)
_PART = re.compile(r"(\d+)([wdhms])")
_WHOLE = re.compile(r"(?:\d+[wdhms])+")


def duration_seconds(text: str) -> int:
    """``1h30m`` → 5400; a ``ValueError`` naming the text when it is not a duration."""
    if not _WHOLE.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a duration (write it as Prometheus does: 30s, 5m, 1h30m, 1d, 1w)"
        )
    return sum(int(amount) * _SECONDS[unit] for amount, unit in _PART.findall(text))


def prometheus_duration(value: object) -> str:
    """A duration (text, or whole seconds) in its shortest Prometheus spelling: 5400 → ``1h30m``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("a window is a duration such as 5m or 1h, or whole seconds")
    seconds = value if isinstance(value, int) else duration_seconds(value.strip())
    if seconds <= 0:
        raise ValueError("a window must be longer than zero")
    parts = []
    for unit, size in _UNITS:
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
