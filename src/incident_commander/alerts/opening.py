"""Opening incidents for alerts that have none: one per group, or one for a whole storm.

Runs after the alert rows are committed, in a transaction of its own. When more groups open in
a minute than ``alerts.storm_groups_per_minute`` allows, the groups beyond the limit join one
open *alert storm* incident instead of opening hundreds: a person sees one incident listing
them, not a page of noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from incident_commander.alerts.attachments import Attachments
from incident_commander.alerts.rules import (
    Pending,
    group_key,
    open_incident_of,
    open_incidents_of,
)
from incident_commander.alerts.signal import AlertSignal
from incident_commander.alerts.titles import incident_title
from incident_commander.clock import isoformat, utcnow
from incident_commander.errors import TransitionRejected
from incident_commander.protocol.journal import Journal
from incident_commander.protocol.steps.declare import Declaration, open_incident
from incident_commander.store.models import Alert, Incident

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["STORM_SERVICE", "IncidentOpener"]

STORM_SERVICE = "alert-storm"
ALERT_SOURCES = ("monitoring-alert", "health-probe")
_ALERTS = Alert.metadata.tables["alerts"]
_LINK = (
    update(_ALERTS)
    .where(
        _ALERTS.c.source == bindparam("alert_source"),
        _ALERTS.c.fingerprint == bindparam("alert_fingerprint"),
    )
    .values(
        incident_id=bindparam("incident_id"),
        outcome=bindparam("outcome"),
        reason=bindparam("reason"),
    )
)


@dataclass(frozen=True)
class _Placement:
    """Where a group's alerts went: the incident, whether its first alert opened it, and why."""

    incident_id: str
    new: bool
    reason: str | None


class IncidentOpener:
    """Opens the incidents the intake's pending alerts need, all in one transaction."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.settings = kernel.settings.alerts

    def open(self, pending: list[Pending]) -> set[str]:
        """Open one incident per group (or join the storm); the group's other alerts join it.

        Returns the incidents opened or joined, whose evidence is behind the store.
        """
        by_group: dict[str, list[Pending]] = {}
        for item in pending:
            by_group.setdefault(item.row.group_key, []).append(item)
        for _attempt in range(5):
            try:
                placed = self._open_all(by_group)
                break
            except IntegrityError:
                continue  # another process took the same incident id: count again
        else:
            raise TransitionRejected("could not allocate an incident id; try again")
        for key, items in by_group.items():
            place = placed[key]
            if place.new:
                items[0].result.opened.append(place.incident_id)
            for item in items:
                outcome = "opened" if place.new and item is items[0] else "joined"
                item.row.incident_id, item.row.outcome = place.incident_id, outcome
                item.row.reason = place.reason
                item.entry.update(
                    incident_id=place.incident_id, outcome=outcome, reason=place.reason
                )
        return {place.incident_id for place in placed.values()}

    def _open_all(self, by_group: dict[str, list[Pending]]) -> dict[str, _Placement]:
        with self.kernel.transaction(sync=False) as journal:
            self.kernel.store.lock_transaction(journal.session, "alert-intake")
            placed: dict[str, _Placement] = {}
            joined = Attachments()
            # Another writer may have opened a group's incident since the alerts were
            # committed: join it rather than open a second one.
            for key, existing in open_incidents_of(journal, list(by_group)).items():
                placed[key] = _Placement(existing.id, False, None)
            fresh = [key for key in by_group if key not in placed]
            own, stormed = self._split_storm(journal, fresh)
            for key in own:
                declaration = self.declaration(by_group[key][0].signal, key).checked()
                inc = open_incident(self.kernel, journal, declaration)
                placed[key] = _Placement(inc.id, True, None)
            if stormed:
                limit = self.settings.storm_groups_per_minute
                reason = f"alert storm: more than {limit} alert groups within a minute"
                found = open_incident_of(journal, STORM_SERVICE)
                opens_storm = found is None
                storm = found or self._open_storm(journal, stormed, by_group)
                for key in stormed:
                    placed[key] = _Placement(storm.id, opens_storm and key == stormed[0], reason)
            linked: list[dict[str, Any]] = []
            for key, items in by_group.items():
                place = placed[key]
                target = journal.session.get(Incident, place.incident_id)
                assert target is not None
                for item in items:
                    first = place.new and item is items[0]
                    linked.append(
                        {
                            "alert_source": item.row.source,
                            "alert_fingerprint": item.row.fingerprint,
                            "incident_id": target.id,
                            "outcome": "opened" if first else "joined",
                            "reason": place.reason,
                        }
                    )
                    if not first:
                        joined.add(target, item.signal, "alert joined")
            if linked:  # every alert of the groups with one statement, however many groups
                journal.session.connection().execute(_LINK, linked)
            joined.write(journal)
        return placed

    def _split_storm(self, journal: Journal, keys: list[str]) -> tuple[list[str], list[str]]:
        """The groups that open their own incident, and those that join the storm."""
        limit = self.settings.storm_groups_per_minute
        since = utcnow() - timedelta(minutes=1)
        recent = journal.session.scalar(
            select(func.count())
            .select_from(Incident)
            .where(
                Incident.detected_at >= since,
                Incident.source.in_(ALERT_SOURCES),
                Incident.service != STORM_SERVICE,
            )
        )
        room = max(0, limit - (recent or 0))
        if len(keys) <= room:
            return keys, []
        return keys[:room], keys[room:]

    def _open_storm(
        self, journal: Journal, keys: list[str], by_group: dict[str, list[Pending]]
    ) -> Incident:
        limit = self.settings.storm_groups_per_minute
        first = by_group[keys[0]][0].signal
        declaration = Declaration(
            title=f"Alert storm: more than {limit} alert groups within a minute",
            service=STORM_SERVICE,
            source="monitoring-alert",
            detected_by=first.source,
            symptoms=[f"alerts of groups: {', '.join(keys[:50])}"[:1000]],
            first_signal_at=min(first.starts_at, utcnow()),
            details={"groups": keys[:1000], "storm_groups_per_minute": limit},
        ).checked()
        return open_incident(self.kernel, journal, declaration)

    def proposed_answers(self, signal: AlertSignal) -> dict[str, Any] | None:
        """Severity answers from the first assess rule whose labels all match."""
        for rule in self.settings.assess:
            if all(signal.labels.get(k) == v for k, v in rule.match.items()):
                answers = rule.answers.model_copy(
                    update={"impacted_components": [group_key(self.settings, signal)]}
                )
                matched = ", ".join(f"{k}={v}" for k, v in rule.match.items())
                by = rule.by or f"alert rule {matched}"
                return {"answers": answers.model_dump(mode="json"), "by": by}
        return None

    def declaration(self, first: AlertSignal, key: str) -> Declaration:
        """The incident an alert opens, with the severity answers its labels propose."""
        details: dict[str, Any] = {
            "labels": first.labels,
            "annotations": first.annotations,
            "fingerprint": first.fingerprint,
            "starts_at": isoformat(first.starts_at),
        }
        proposal = self.proposed_answers(first)
        if proposal:
            details["proposed_answers"] = proposal
        return Declaration(
            title=incident_title(first.alertname, first.summary),
            service=key,
            source="health-probe" if first.source == "health-probe" else "monitoring-alert",
            detected_by=first.source,
            symptoms=[first.summary[:1000]],
            first_signal_at=min(first.starts_at, utcnow()),
            details=details,
        )
