"""The two summaries every duration gets: the median and the 90th percentile (nearest rank)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Spread", "nearest_rank", "spread"]


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile: the smallest value with ``percent``% of values at or below it.

    With the values sorted, it is the one at rank ``ceil(percent / 100 * n)`` (counting from 1),
    always one of the values themselves, never an interpolation. Of ten values, p90 is the 9th
    smallest; of eleven, the 10th; of one, that one. ``None`` when there are no values.
    """
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Spread:
    """How many durations were measured, their median and their p90 (seconds)."""

    count: int
    median: float | None
    p90: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "count": self.count,
            "median_s": _rounded(self.median),
            "p90_s": _rounded(self.p90),
        }


def spread(values: Sequence[float]) -> Spread:
    """The median (``statistics.median``: the mean of the two middle values when the count is
    even) and the nearest-rank p90 of ``values``."""
    if not values:
        return Spread(0, None, None)
    return Spread(len(values), statistics.median(values), nearest_rank(values, 90))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
