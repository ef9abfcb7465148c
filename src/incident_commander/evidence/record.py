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


def load_record(session: Session, incident: Incident, *, timeline: bool = True) -> IncidentRecord:
    """Load every row that belongs to ``incident``, in recorded order.

    Without ``timeline`` the events and messages (the rows that grow with every step) are left
    out: for a caller that only decides what to do next.
    """
    iid = incident.id
    suspect = (
        session.get(Deploy, incident.suspect_deploy_id) if incident.suspect_deploy_id else None
    )
    return IncidentRecord(
        incident=incident,
        signals=list(
            session.scalars(select(Signal).where(Signal.incident_id == iid).order_by(Signal.id))
        ),
        events=list(
            session.scalars(select(Event).where(Event.incident_id == iid).order_by(Event.seq))
        )
        if timeline
        else [],
        decisions=list(
            session.scalars(
                select(Decision).where(Decision.incident_id == iid).order_by(Decision.id)
            )
        ),
        executions=list(
            session.scalars(
                select(Execution).where(Execution.incident_id == iid).order_by(Execution.id)
            )
        ),
        notifications=list(
            session.scalars(
                select(Notification)
                .where(Notification.incident_id == iid)
                .order_by(Notification.id)
            )
        )
        if timeline
        else [],
        suspect_deploy=suspect,
    )
