"""Similar past incidents: the closest earlier incidents, what they share, and what worked.

A past incident is one that had ended (resolved, closed or dismissed as a false positive)
before this one was detected, so the answer is what a responder could have known when the
incident opened, and it never changes afterwards: the report that shows it stays verifiable.
Only what was on record by that moment is compared (the signals then, the executions then).

The score is a weighted sum of plain overlaps, each between 0 and 1, so a match explains
itself: the same service, the same suspect release, and the Jaccard index (shared / all) of the
words of title and symptoms, of the alert names, of the alert labels and of the impacted
components. No network, no model: the same store gives the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from incident_commander.clock import isoformat
from incident_commander.errors import IncidentNotFound
from incident_commander.store.db import Store
from incident_commander.store.models import Deploy, Execution, Incident, Signal

__all__ = [
    "CANDIDATES",
    "MIN_SCORE",
    "WEIGHTS",
    "Match",
    "Profile",
    "find_similar",
    "jaccard",
    "rank",
    "similar_to",
    "words_of",
]

# Points each feature can give; they add up to 1.
WEIGHTS = {
    "service": 0.25,
    "words": 0.30,
    "alerts": 0.20,
    "labels": 0.10,
    "components": 0.10,
    "release": 0.05,
}
MIN_SCORE = 0.2  # below this a past incident is not worth a responder's time
CANDIDATES = 500  # the most recent past incidents compared
SHOWN_VALUES = 8  # shared values listed per feature

# Labels with a feature of their own.
_OWN_FEATURE_LABELS = frozenset({"alertname", "service"})
_STOP_WORDS = frozenset(
    "a an and are as at be by for from has have in is it of on or the to was were with "
    "not no after before than this that".split()
)
_TOKEN = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
_NUMBER = re.compile(r"[0-9][0-9._-]*")
_STATUS_CODE = re.compile(r"[1-5][0-9][0-9]")


def words_of(texts: Iterable[str]) -> frozenset[str]:
    """The words that describe an incident: lower case, no stop words, no one-letter words and
    no measurements (``104.2``), but HTTP status codes (``500``) kept."""
    found: set[str] = set()
    for text in texts:
        for token in _TOKEN.findall(text.lower()):
            if len(token) < 2 or token in _STOP_WORDS:
                continue
            if _NUMBER.fullmatch(token) and not _STATUS_CODE.fullmatch(token):
                continue
            found.add(token)
    return frozenset(found)


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    """Shared values over all values; 0 when both are empty."""
    union = first | second
    return len(first & second) / len(union) if union else 0.0


@dataclass(frozen=True)
class Profile:
    """What is compared of an incident, and what a match reports about it."""

    id: str
    title: str
    service: str
    status: str
    severity: str | None
    detected_at: datetime
    words: frozenset[str]
    alerts: frozenset[str]
    labels: frozenset[str]
    components: frozenset[str]
    release: str | None
    resolution: str | None = None
    worked: str | None = None


@dataclass(frozen=True)
class Shared:
    """One feature two incidents have in common and the points it gave."""

    feature: str
    values: tuple[str, ...]
    overlap: float
    points: float

    def describe(self) -> str:
        listed = ", ".join(self.values[:SHOWN_VALUES])
        more = len(self.values) - SHOWN_VALUES
        return f"{self.feature}: {listed}{f' (+{more})' if more > 0 else ''}"


@dataclass(frozen=True)
class Match:
    """A past incident, its score (0 to 1) and the features behind it."""

    incident: Profile
    score: float
    shared: tuple[Shared, ...]

    def explain(self) -> str:
        """The shared features with their points, for one line of text."""
        return "; ".join(f"{s.describe()} (+{s.points:.2f})" for s in self.shared)

    def as_dict(self) -> dict[str, Any]:
        past = self.incident
        return {
            "id": past.id,
            "title": past.title,
            "service": past.service,
            "status": past.status,
            "severity": past.severity,
            "detected_at": isoformat(past.detected_at),
            "score": self.score,
            "shared": [
                {
                    "feature": s.feature,
                    "values": list(s.values),
                    "overlap": round(s.overlap, 3),
                    "points": s.points,
                }
                for s in self.shared
            ],
            "resolution": past.resolution,
            "what_worked": past.worked,
        }


def _sets(target: Profile, past: Profile) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    def one(value: str | None) -> frozenset[str]:
        return frozenset({value}) if value else frozenset()

    return {
        "service": (one(target.service), one(past.service)),
        "words": (target.words, past.words),
        "alerts": (target.alerts, past.alerts),
        "labels": (target.labels, past.labels),
        "components": (target.components, past.components),
        "release": (one(target.release), one(past.release)),
    }


def compare(target: Profile, past: Profile) -> Match:
    """Score ``past`` against ``target``: each feature's overlap times its weight."""
    shared: list[Shared] = []
    for feature, (mine, theirs) in _sets(target, past).items():
        overlap = jaccard(mine, theirs)
        if overlap > 0:
            points = round(WEIGHTS[feature] * overlap, 3)
            shared.append(Shared(feature, tuple(sorted(mine & theirs)), overlap, points))
    score = round(sum(WEIGHTS[s.feature] * s.overlap for s in shared), 3)
    return Match(past, score, tuple(shared))


def rank(
    target: Profile, candidates: Iterable[Profile], *, limit: int = 5, min_score: float = MIN_SCORE
) -> list[Match]:
    """The closest ``limit`` candidates scoring at least ``min_score``: highest score first,
    then the most recent, then by id, so ties always come out in the same order."""
    matches = [compare(target, past) for past in candidates if past.id != target.id]
    kept = [m for m in matches if m.score >= min_score]
    kept.sort(key=lambda m: (-m.score, -m.incident.detected_at.timestamp(), m.incident.id))
    return kept[:limit]


def _ended_by(inc: Incident, moment: datetime) -> bool:
    """Whether ``inc`` had ended (resolved, closed, dismissed) at ``moment``."""
    ends = [t for t in (inc.resolved_at, inc.closed_at) if t is not None]
    dismissed = (inc.resolution or {}).get("false_positive") or {}
    if inc.status == "false_positive" and isinstance(dismissed.get("at"), str):
        try:
            ends.append(datetime.fromisoformat(dismissed["at"]))
        except ValueError:
            pass
    return any(t <= moment for t in ends)


def _resolution(inc: Incident) -> str | None:
    resolution = inc.resolution or {}
    dismissed = resolution.get("false_positive")
    if isinstance(dismissed, dict):
        return f"false positive: {dismissed.get('reason')}"
    summary = resolution.get("summary")
    return str(summary) if summary else None


def _profiles(session: Session, incidents: Sequence[Incident], moment: datetime) -> list[Profile]:
    """Profiles of ``incidents``: the first as recorded now, the others as by ``moment``."""
    ids = [inc.id for inc in incidents]
    alerts: dict[str, set[str]] = {i: set() for i in ids}
    labels: dict[str, set[str]] = {i: set() for i in ids}
    for incident_id, details in session.execute(
        select(Signal.incident_id, Signal.details).where(
            Signal.incident_id.in_(ids), or_(Signal.incident_id == ids[0], Signal.at <= moment)
        )
    ):
        found = (details or {}).get("labels") or {}
        if not isinstance(found, dict):
            continue
        if found.get("alertname"):
            alerts[incident_id].add(str(found["alertname"]))
        labels[incident_id].update(
            f"{k}={v}" for k, v in found.items() if k not in _OWN_FEATURE_LABELS
        )
    worked: dict[str, str] = {}
    for row in session.scalars(
        select(Execution)
        .where(
            Execution.incident_id.in_(ids),
            Execution.status == "succeeded",
            Execution.finished_at <= moment,
        )
        .order_by(Execution.id)
    ):
        moved = f" ({row.release_before} → {row.release_after})" if row.release_after else ""
        worked[row.incident_id] = f"{row.option_name}{moved}"
    deploys = {
        d.id: d.version
        for d in session.scalars(
            select(Deploy).where(
                Deploy.id.in_([i.suspect_deploy_id for i in incidents if i.suspect_deploy_id])
            )
        )
    }
    return [
        Profile(
            id=inc.id,
            title=inc.title,
            service=inc.service,
            status=inc.status,
            severity=inc.severity,
            detected_at=inc.detected_at,
            words=words_of([inc.title, *(str(s) for s in inc.symptoms or [])]),
            alerts=frozenset(alerts[inc.id]),
            labels=frozenset(labels[inc.id]),
            components=frozenset(
                str(c)
                for c in ((inc.assessment or {}).get("answers") or {}).get("impacted_components")
                or []
            ),
            release=deploys.get(inc.suspect_deploy_id) if inc.suspect_deploy_id else None,
            resolution=_resolution(inc),
            worked=worked.get(inc.id),
        )
        for inc in incidents
    ]


def similar_to(session: Session, inc: Incident, *, limit: int = 5) -> list[Match]:
    """The past incidents closest to ``inc`` (ended before it was detected), closest first."""
    moment = inc.detected_at
    earlier = list(
        session.scalars(
            select(Incident)
            .where(
                Incident.id != inc.id,
                Incident.detected_at < moment,
                or_(
                    Incident.resolved_at <= moment,
                    Incident.closed_at <= moment,
                    Incident.status == "false_positive",
                ),
            )
            .order_by(Incident.detected_at.desc(), Incident.id.desc())
            .limit(CANDIDATES)
        )
    )
    past = [p for p in earlier if _ended_by(p, moment)]
    if not past:
        return []
    target, *candidates = _profiles(session, [inc, *past], moment)
    return rank(target, candidates, limit=limit)


def find_similar(store: Store, incident_id: str, *, limit: int = 5) -> list[Match]:
    """``similar_to`` for the incident with this id."""
    with store.session() as session:
        inc = session.get(Incident, incident_id)
        if inc is None:
            raise IncidentNotFound(
                f"no incident with id {incident_id!r}", hint="`ic list` shows the incidents"
            )
        return similar_to(session, inc, limit=limit)
