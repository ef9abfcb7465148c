"""Which incidents the numbers cover: a period of detection times, and perhaps one service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from incident_commander.clock import isoformat
from incident_commander.errors import InvalidInput

__all__ = ["Period", "moment_of", "period_of"]

_EXPECTED = "a date (2026-11-01) or a date and time (2026-11-01T08:00:00Z)"


@dataclass(frozen=True)
class Period:
    """Which incidents count: detected in ``[since, until)``, of ``service`` when given."""

    since: datetime | None = None
    until: datetime | None = None
    service: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "since": isoformat(self.since),
            "until": isoformat(self.until),
            "service": self.service,
        }


def moment_of(value: str, *, option: str, end: bool = False) -> datetime:
    """A date or a date and time, in UTC (a time without a zone is taken as UTC).

    A bare date means its midnight; as the end of a period (``end``) it means the end of that
    day, so ``--until 2026-11-30`` includes the 30th.
    """
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{option}: expected {_EXPECTED}, got {value[:40]!r}") from None


def period_of(since: str | None, until: str | None, service: str | None) -> Period:
    """The period of ``--since`` / ``--until`` (either may be left open)."""
    start = moment_of(since, option="since") if since else None
    stop = moment_of(until, option="until", end=True) if until else None
    if start is not None and stop is not None and start >= stop:
        raise InvalidInput(f"since ({isoformat(start)}) must come before until ({isoformat(stop)})")
    return Period(start, stop, service)
