"""The update cadence: while an incident of a level with a cadence is open, a status update is
due every so many minutes (``update_cadence_minutes``; by default the top two levels, every 15).

What counts as an update: any message written for the public (the engine's status updates,
``ic notify --public``) and any manual ``ic notify`` update. When none was given for a whole
period, the responders are reminded through the outbox and the timeline says so
(``update.overdue``), once per overdue period: the reminder starts the next period, so a team
that stays silent hears of it again one period later, never at every look of the watcher.
The watcher (``ic serve``, ``ic watch``) calls ``remind_due`` at each look.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incident_commander.clock import utcnow
from incident_commander.notify.messages import MessageKind
from incident_commander.notify.routing import recipients, responder_audiences
from incident_commander.protocol.journal import Journal
from incident_commander.protocol.states import TERMINAL, Status
from incident_commander.store.models import Event, Incident, Notification

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["OVERDUE", "UPDATE_EVENTS", "remind_due"]

OVERDUE = "update.overdue"
# Timeline lines that start a new period: a manual update, and a reminder already given.
UPDATE_EVENTS = ("update.posted", OVERDUE)
# After resolution the incident is watched, not worked: no status update is due any more.
_QUIET = frozenset({Status.RESOLVED.value, Status.MONITORING.value, *TERMINAL})


def _period_start(session: Session, inc: Incident) -> datetime:
    """When the current period began: the latest update or reminder, else the detection."""
    marks = [
        inc.detected_at,
        session.scalar(
            select(func.max(Notification.at)).where(
                Notification.incident_id == inc.id, Notification.public.is_(True)
            )
        ),
        session.scalar(
            select(func.max(Event.at)).where(
                Event.incident_id == inc.id, Event.kind.in_(UPDATE_EVENTS)
            )
        ),
    ]
    return max(mark for mark in marks if mark is not None)


def _overdue(session: Session, inc: Incident, cadence: dict[str, float], now: datetime) -> bool:
    if inc.status in _QUIET or inc.severity not in cadence:
        return False
    return now - _period_start(session, inc) >= timedelta(minutes=cadence[inc.severity])


def _remind(kernel: Kernel, journal: Journal, inc: Incident, minutes: float, now: datetime) -> None:
    settings = kernel.settings
    silent = (now - _period_start(journal.session, inc)).total_seconds() / 60
    routed = recipients(
        settings.notifications,
        settings.routing,
        severity=inc.severity,
        service=inc.service,
        public=False,
    )
    responders = set(responder_audiences(settings.notifications))
    audiences = sorted({c.audience for c in routed if c.audience in responders}) or sorted(
        {c.audience for c in routed}
    )
    journal.event(
        inc,
        OVERDUE,
        f"status update overdue: none for {silent:.1f} min; one is due every {minutes:g} min "
        f"while a {inc.severity} incident is open; reminded "
        + (", ".join(audiences) if audiences else "no one (no channel reaches the responders)"),
        {"minutes": minutes, "audiences": audiences},
    )
    for audience in audiences:
        journal.tell(
            inc,
            MessageKind.INTERNAL_UPDATE,
            {
                "headline": "status update overdue",
                "text": f"No status update for {silent:.0f} min; one is due every {minutes:g} min "
                f"while a {inc.severity} incident is open. Post one: ic notify {inc.id} "
                "--audience AUDIENCE --message TEXT (add --public for the status page).",
            },
            audience=audience,
        )


def remind_due(kernel: Kernel, *, now: datetime | None = None) -> list[str]:
    """Remind the responders of every open incident whose status update is overdue; return
    the incidents reminded."""
    cadence = kernel.settings.update_cadence
    if not cadence:
        return []
    moment = now or utcnow()
    with kernel.store.session() as session:
        candidates = session.scalars(
            select(Incident)
            .where(Incident.severity.in_(list(cadence)), Incident.status.not_in(list(_QUIET)))
            .order_by(Incident.detected_at)
        ).all()
        due = [inc.id for inc in candidates if _overdue(session, inc, cadence, moment)]
    reminded = []
    for incident_id in due:
        with kernel.transaction() as journal:
            inc = kernel.load(journal.session, incident_id)
            # Looked at again under the lock: another watcher may have reminded meanwhile.
            if not _overdue(journal.session, inc, cadence, moment):
                continue
            _remind(kernel, journal, inc, cadence[str(inc.severity)], moment)
            reminded.append(incident_id)
    return reminded
