"""The pure parts of the insights: percentiles, periods, words, scores, ranking, weeks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from incident_commander.alerts.tuning import SUGGESTIONS
from incident_commander.errors import InvalidInput
from incident_commander.insights.metrics import FALSE_POSITIVE_OUTCOMES
from incident_commander.insights.period import Period, moment_of, period_of
from incident_commander.insights.similar import WEIGHTS, Profile, compare, jaccard, rank, words_of
from incident_commander.insights.stats import nearest_rank, spread
from incident_commander.insights.trend import MAX_WEEKS, weekly_trend


def test_p90_is_the_nearest_rank_never_an_interpolation() -> None:
    assert nearest_rank([float(v) for v in range(10, 101, 10)], 90) == 90.0  # 9th of 10
    assert nearest_rank([float(v) for v in range(1, 12)], 90) == 10.0  # 10th of 11
    assert nearest_rank([3.0, 1.0, 2.0], 90) == 3.0  # ceil(2.7) = 3rd of 3
    assert nearest_rank([7.5], 90) == 7.5
    assert nearest_rank([], 90) is None
    assert nearest_rank([4.0, 1.0, 3.0, 2.0], 50) == 2.0  # the nearest rank, not the median
    with pytest.raises(ValueError, match="percent"):
        nearest_rank([1.0], 0)


def test_the_median_averages_the_two_middle_values() -> None:
    assert spread([150.0, 1200.0, 350.0, 250.0]).median == 300.0
    assert spread([5.0, 1.0, 3.0]).median == 3.0
    assert spread([]).as_dict() == {"count": 0, "median_s": None, "p90_s": None}


def test_a_period_takes_dates_as_whole_days_in_utc() -> None:
    period = period_of("2026-03-02", "2026-03-22", "web")

    assert period.since == datetime(2026, 3, 2, tzinfo=UTC)
    assert period.until == datetime(2026, 3, 23, tzinfo=UTC)  # the 22nd included
    assert period.service == "web"
    assert moment_of("2026-03-02T10:00:00+02:00", option="since") == datetime(
        2026, 3, 2, 8, tzinfo=UTC
    )
    assert moment_of("2026-03-02T10:00:00", option="since") == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert period_of(None, None, None) == Period()


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("last week", None, "since: expected a date"),
        (None, "2026-02-30", "until: expected a date"),
        (None, "9999-12-31", "until: expected a date"),  # the day after does not exist
        ("2026-03-10", "2026-03-01", "must come before until"),
    ],
)
def test_a_bad_period_is_refused_naming_the_option(
    since: str | None, until: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        period_of(since, until, None)


def test_words_drop_stop_words_and_measurements_but_keep_status_codes() -> None:
    words = words_of(
        ["Checkout returns 500 after deploy: latency 104.2 ms, 3 s", "HTTP 500 on /pay"]
    )

    assert words == {"checkout", "returns", "500", "deploy", "latency", "ms", "http", "pay"}
    assert words_of(["demo-web v2 p99"]) == {"demo-web", "v2", "p99"}


def test_jaccard_is_shared_over_all() -> None:
    assert jaccard(frozenset("abc"), frozenset("bcd")) == 0.5
    assert jaccard(frozenset(), frozenset()) == 0.0


def _profile(id: str, day: int, **features: object) -> Profile:
    base: dict[str, object] = {
        "title": id,
        "service": "web",
        "status": "closed",
        "severity": "SEV2",
        "words": frozenset(),
        "alerts": frozenset(),
        "labels": frozenset(),
        "components": frozenset(),
        "release": None,
    }
    base.update(features)
    return Profile(id=id, detected_at=datetime(2026, 1, day, tzinfo=UTC), **base)  # type: ignore[arg-type]


def test_a_match_lists_each_shared_feature_with_its_points() -> None:
    target = _profile("T", 20, words=frozenset({"db", "slow"}), alerts=frozenset({"A", "B"}))
    past = _profile("P", 1, words=frozenset({"db"}), alerts=frozenset({"A"}), release="v2")

    match = compare(target, past)

    assert [(s.feature, s.values, s.points) for s in match.shared] == [
        ("service", ("web",), 0.25),
        ("words", ("db",), 0.15),
        ("alerts", ("A",), 0.1),
    ]
    assert match.score == 0.5
    assert match.explain() == "service: web (+0.25); words: db (+0.15); alerts: A (+0.10)"
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_ranking_is_by_score_then_recency_then_id_and_drops_weak_matches() -> None:
    target = _profile("T", 20, words=frozenset({"db"}))
    same_old = _profile("B-old", 1)
    same_new = _profile("C-new", 5)
    same_new_twin = _profile("A-new", 5)
    closer = _profile("D", 2, words=frozenset({"db"}))
    elsewhere = _profile("E", 3, service="api")  # shares nothing: score 0

    ranked = rank(target, [same_old, elsewhere, same_new, closer, same_new_twin, target])

    assert [m.incident.id for m in ranked] == ["D", "A-new", "C-new", "B-old"]
    assert [m.score for m in ranked] == [0.55, 0.25, 0.25, 0.25]
    assert [m.incident.id for m in rank(target, [same_old, closer], limit=1)] == ["D"]
    assert rank(target, [same_old], min_score=0.3) == []


def _row(id: str, moment: datetime, status: str = "closed") -> SimpleNamespace:
    return SimpleNamespace(id=id, detected_at=moment, severity="SEV2", status=status)


def test_the_trend_counts_every_week_quiet_ones_included() -> None:
    monday = datetime(2026, 3, 2, 9, tzinfo=UTC)
    rows = [_row("a", monday), _row("b", monday + timedelta(days=15), "false_positive")]
    now = datetime(2026, 11, 1, tzinfo=UTC)

    weeks = weekly_trend(rows, Period(), {"a": 60.0, "b": None}, now=now)
    bounded = weekly_trend(rows, Period(until=datetime(2026, 3, 23, tzinfo=UTC)), {}, now=now)

    assert [w.label for w in weeks[:3]] == ["2026-W10", "2026-W11", "2026-W12"]
    assert [w.incidents for w in weeks[:3]] == [1, 0, 1]
    assert weeks[2].false_positives == 1 and weeks[0].time_to_recover.median == 60.0
    assert weeks[-1].starts == date(2026, 10, 26)  # on to this week, quiet
    assert [w.label for w in bounded] == ["2026-W10", "2026-W11", "2026-W12"]


def test_a_long_period_shows_its_latest_weeks() -> None:
    now = datetime(2026, 11, 4, tzinfo=UTC)

    weeks = weekly_trend([], Period(since=datetime(1970, 1, 1, tzinfo=UTC)), {}, now=now)

    assert len(weeks) == MAX_WEEKS and weeks[-1].starts == date(2026, 11, 2)
    assert weekly_trend([], Period(), {}, now=now) == []


def test_false_positive_outcomes_are_those_the_tuning_feedback_lists() -> None:
    assert set(FALSE_POSITIVE_OUTCOMES) == set(SUGGESTIONS)
