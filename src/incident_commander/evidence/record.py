"""Everything recorded about one incident, loaded in one go for rendering and gates."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from incident_commander.store.models import (
    Decision,
    Deploy,
    Event,
    Execution,
    Incident,
    Notification,
    Signal,
)

__all__ = ["IncidentRecord", "load_record"]


@dataclass
class IncidentRecord:
    """An incident with its signals, timeline, decisions, executions, messages and deploys."""

    incident: Incident
    signals: list[Signal]
    events: list[Event]
    decisions: list[Decision]
    executions: list[Execution]
    notifications: list[Notification]
    suspect_deploy: Deploy | None

    def decision(self, kind: str) -> Decision | None:
        """The latest decision of one kind (severity, mitigation, resolution)."""
        found = [d for d in self.decisions if d.kind == kind]
        return found[-1] if found else None


def load_record(session: Session, incident: Incident) -> IncidentRecord:
    """Load every row that belongs to ``incident``, in recorded order."""

    def rows(model: type, order: object) -> list:  # type: ignore[type-arg]
        statement = select(model).where(model.incident_id == incident.id).order_by(order)  # type: ignore[attr-defined]
        return list(session.scalars(statement))

    suspect = session.get(Deploy, incident.suspect_deploy_id) if incident.suspect_deploy_id else None
    return IncidentRecord(
        incident=incident,
        signals=rows(Signal, Signal.id),
        events=rows(Event, Event.seq),
        decisions=rows(Decision, Decision.id),
        executions=rows(Execution, Execution.id),
        notifications=rows(Notification, Notification.id),
        suspect_deploy=suspect,
    )
