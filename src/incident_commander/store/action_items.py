"""Reading action items: the rows of one incident, their plain shape, the open and overdue counts.

Every layer may read them (the report, the gates, the metrics, the memos); only the review
steps write them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incident_commander.clock import isoformat
from incident_commander.store.models import ActionItem

__all__ = [
    "DONE",
    "KINDS",
    "OPEN",
    "PRIORITIES",
    "action_dict",
    "actions_of",
    "count_open_and_overdue",
    "is_overdue",
]

KINDS = ("prevention", "detection", "mitigation", "process")
PRIORITIES = ("high", "medium", "low")
OPEN = "open"
DONE = "done"


def actions_of(session: Session, incident_id: str) -> list[ActionItem]:
    """The incident's action items, in the order they were added."""
    return list(
        session.scalars(
            select(ActionItem).where(ActionItem.incident_id == incident_id).order_by(ActionItem.id)
        )
    )


def is_overdue(item: ActionItem, today: date) -> bool:
    """Open and past its due date."""
    return item.status == OPEN and item.due < today


def action_dict(item: ActionItem, today: date) -> dict[str, Any]:
    """An action item as the CLI's ``--json`` and the API return it."""
    return {
        "n": item.id,
        "incident_id": item.incident_id,
        "title": item.title,
        "owner": item.owner,
        "due": item.due.isoformat(),
        "priority": item.priority,
        "kind": item.kind,
        "status": item.status,
        "overdue": is_overdue(item, today),
        "created_at": isoformat(item.created_at),
        "created_by": item.created_by,
        "done_at": isoformat(item.done_at),
        "done_by": item.done_by,
        "note": item.note,
    }


def count_open_and_overdue(session: Session, today: date) -> dict[str, int]:
    """How many action items are open, and how many of those are past due."""
    open_count = session.scalar(
        select(func.count()).select_from(ActionItem).where(ActionItem.status == OPEN)
    )
    overdue = session.scalar(
        select(func.count())
        .select_from(ActionItem)
        .where(ActionItem.status == OPEN, ActionItem.due < today)
    )
    return {"open": int(open_count or 0), "overdue": int(overdue or 0)}
