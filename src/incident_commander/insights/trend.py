"""The weekly trend: incidents per ISO week (Monday to Sunday, UTC), quiet weeks included."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from incident_commander.insights.period import Period
from incident_commander.insights.stats import Spread, spread

__all__ = ["MAX_WEEKS", "Week", "ordered", "weekly_trend"]

MAX_WEEKS = 156  # three years; a longer period shows its last three years


@dataclass(frozen=True)
class Week:
    """One ISO week of the trend."""

    starts: date
    incidents: int
    false_positives: int
    by_severity: dict[str, int]
    time_to_recover: Spread

    @property
    def label(self) -> str:
        year, week, _ = self.starts.isocalendar()
        return f"{year}-W{week:02d}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "week": self.label,
            "starts": self.starts.isoformat(),
            "incidents": self.incidents,
            "false_positives": self.false_positives,
            "by_severity": self.by_severity,
            "median_time_to_recover_s": self.time_to_recover.as_dict()["median_s"],
        }


def ordered(counts: Counter[str], order: Sequence[str]) -> dict[str, int]:
    """Counts in the given order first (severity levels, most severe first), then by name."""
    rank = {name: i for i, name in enumerate(order)}
    return {k: counts[k] for k in sorted(counts, key=lambda k: (rank.get(k, len(rank)), k))}


def _monday(moment: datetime) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday())


def weekly_trend(
    rows: Sequence[Any],
    period: Period,
    recover: dict[str, float | None],
    *,
    now: datetime,
    severities: Sequence[str] = (),
) -> list[Week]:
    """Every week from the period's start (or the first incident) to its end (or this week),
    and on to the last incident's week if later; at most ``MAX_WEEKS``, the latest.

    ``rows`` have ``id``, ``detected_at``, ``severity`` and ``status``; ``recover`` maps an
    incident id to its time to recover (seconds) when measured.
    """
    if not rows and period.since is None:
        return []
    this_week = _monday(now)
    bound = this_week
    if period.until is not None:
        bound = min(_monday(period.until - timedelta(microseconds=1)), this_week)
    last = max([bound, *(_monday(r.detected_at) for r in rows)])
    first = _monday(period.since) if period.since else min(_monday(r.detected_at) for r in rows)
    if (last - first).days > 7 * (MAX_WEEKS - 1):
        first = last - timedelta(weeks=MAX_WEEKS - 1)
    grouped: dict[date, list[Any]] = {}
    for row in rows:
        grouped.setdefault(_monday(row.detected_at), []).append(row)
    weeks: list[Week] = []
    start = first
    while start <= last:
        members = grouped.get(start, [])
        times = [t for r in members if (t := recover.get(r.id)) is not None]
        weeks.append(
            Week(
                starts=start,
                incidents=len(members),
                false_positives=sum(r.status == "false_positive" for r in members),
                by_severity=ordered(
                    Counter(r.severity or "unassessed" for r in members), severities
                ),
                time_to_recover=spread(times),
            )
        )
        start += timedelta(weeks=1)
    return weeks
