"""Phase 4 follow-up: action items added and done, and reminders of what is overdue.

An action item is a row (``store.models.ActionItem``) with an owner, a due date, a kind and a
priority; adding or finishing one is a step with its timeline line, so the report is rewritten
with it. The watcher calls ``remind_overdue``: each overdue item is reminded through the
notification outbox at most once a day, and each post-mortem past its due date once, each
reminder on the timeline.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from incident_commander.clock import utcnow
from incident_commander.errors import InvalidInput, TransitionRejected
from incident_commander.protocol.journal import Journal
from incident_commander.protocol.postmortem import POSTMORTEM_DAYS, postmortem_state
from incident_commander.store.action_items import DONE, OPEN, actions_of
from incident_commander.store.models import ActionItem, Incident

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["REMIND_WITHIN_DAYS", "add_action", "finish_action", "new_action", "remind_overdue"]

REMIND_WITHIN_DAYS = 30
log = logging.getLogger("incident_commander")


def new_action(
    journal: Journal,
    inc: Incident,
    *,
    title: str,
    owner: str,
    due: date,
    kind: str,
    priority: str,
    by: str,
) -> ActionItem:
    """Add an action item to ``inc`` inside the caller's step, with its timeline line."""
    if not title.strip() or not owner.strip():
        raise InvalidInput("an action item needs a title and an owner")
    item = ActionItem(
        incident_id=inc.id,
        title=" ".join(title.split()),
        owner=owner.strip(),
        due=due,
        priority=priority,
        kind=kind,
        status=OPEN,
        created_at=utcnow(),
        created_by=by,
    )
    journal.session.add(item)
    journal.session.flush()
    journal.event(
        inc,
        "action.added",
        f"action item #{item.id} ({kind}, {priority}) for {item.owner}, due {due.isoformat()}: "
        f"{item.title}",
        {"action": item.id},
    )
    return item


def add_action(
    kernel: Kernel,
    incident_id: str,
    *,
    title: str,
    owner: str,
    due: date,
    kind: str = "prevention",
    priority: str = "medium",
    by: str,
) -> int:
    """Add an action item to an incident; its number."""
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        item = new_action(
            journal, inc, title=title, owner=owner, due=due, kind=kind, priority=priority, by=by
        )
        return item.id


def finish_action(kernel: Kernel, n: int, *, note: str | None, by: str) -> ActionItem:
    """Mark action item ``n`` done, with an optional note."""
    with kernel.transaction() as journal:
        item = journal.session.get(ActionItem, n)
        if item is None:
            raise InvalidInput(f"no action item #{n}", hint="`ic action list` shows them")
        if item.status == DONE:
            raise TransitionRejected(
                f"action item #{n} is already done ({item.done_at:%Y-%m-%d} by {item.done_by})"
            )
        inc = kernel.load(journal.session, item.incident_id)
        item.status = DONE
        item.done_at = utcnow()
        item.done_by = by
        item.note = " ".join(note.split()) if note and note.strip() else None
        journal.event(
            inc,
            "action.done",
            f"action item #{n} done by {by}: {item.title}"
            + (f" — {item.note}" if item.note else ""),
            {"action": n},
        )
        journal.session.flush()
        journal.session.expunge(item)
        return item


def _overdue_incidents(kernel: Kernel, today: date) -> list[str]:
    """Incidents with an overdue item not reminded today, or a post-mortem recently past due.

    A post-mortem is reminded while its due date lies within ``REMIND_WITHIN_DAYS``: the
    incidents of years past are history, not a pile of reminders on the first start.
    """
    cutoff = utcnow() - timedelta(days=POSTMORTEM_DAYS)
    oldest = cutoff - timedelta(days=REMIND_WITHIN_DAYS)
    with kernel.store.session() as session:
        items = session.scalars(
            select(ActionItem.incident_id).where(
                ActionItem.status == OPEN,
                ActionItem.due < today,
                (ActionItem.reminded_on.is_(None)) | (ActionItem.reminded_on < today),
            )
        )
        resolved = session.scalars(
            select(Incident.id).where(
                Incident.resolved_at.is_not(None),
                Incident.resolved_at < cutoff,
                Incident.resolved_at >= oldest,
            )
        )
        return sorted(set(items) | set(resolved))


def _remind_items(journal: Journal, inc: Incident, today: date) -> list[str]:
    sent = []
    for item in actions_of(journal.session, inc.id):
        if item.status != OPEN or item.due >= today or item.reminded_on == today:
            continue
        late = (today - item.due).days
        text = (
            f"Action item #{item.id} of {inc.id} is overdue by {late} day(s): {item.title} "
            f"(owner {item.owner}, due {item.due.isoformat()}). Mark it done with "
            f"`ic action done {item.id}`."
        )
        journal.notify(inc, f"{inc.id}: action item #{item.id} overdue", text)
        journal.event(inc, "action.reminded", text, {"action": item.id})
        item.reminded_on = today
        sent.append(text)
    return sent


def _remind_postmortem(journal: Journal, kernel: Kernel, inc: Incident, today: date) -> str | None:
    resolution = inc.resolution or {}
    if resolution.get("postmortem_reminded"):
        return None
    state = postmortem_state(inc, kernel.settings, actions_of(journal.session, inc.id), today)
    if not state.overdue or state.due is None:
        return None
    text = (
        f"The post-mortem of {inc.id} ({inc.severity}) was due {state.due.isoformat()}: "
        f"{state.whys} why(s) and {state.prevention} prevention item(s) recorded. Record it with "
        f"`ic postmortem {inc.id}`."
    )
    journal.notify(inc, f"{inc.id}: post-mortem overdue", text)
    journal.event(inc, "postmortem.overdue", text)
    inc.resolution = {**resolution, "postmortem_reminded": today.isoformat()}
    return text


def remind_overdue(kernel: Kernel, today: date | None = None) -> list[str]:
    """Remind each overdue action item (once a day) and overdue post-mortem (once)."""
    day = today or utcnow().date()
    reminded: list[str] = []
    for incident_id in _overdue_incidents(kernel, day):
        try:
            with kernel.transaction() as journal:
                inc = kernel.load(journal.session, incident_id)
                reminded += _remind_items(journal, inc, day)
                found = _remind_postmortem(journal, kernel, inc, day)
                if found:
                    reminded.append(found)
        except Exception:  # one incident's trouble must not hold up the others' reminders
            log.exception("%s: reminding what is overdue failed", incident_id)
    return reminded
