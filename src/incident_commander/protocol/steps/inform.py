"""A manual update: words of a person, sent to one audience and recorded like any message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from incident_commander.errors import InvalidInput
from incident_commander.notify.messages import MessageKind
from incident_commander.notify.routing import PUBLIC_AUDIENCES, audiences_of
from incident_commander.protocol.limits import bounded
from incident_commander.store.models import Notification

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["MAX_UPDATE", "Delivered", "announce", "deliveries"]

MAX_UPDATE = 10_000


@dataclass(frozen=True)
class Delivered:
    """One queued or delivered message, as the doors report it."""

    id: int
    channel: str
    audience: str
    status: str
    detail: str
    attempts: int
    public: bool


def announce(
    kernel: Kernel, incident_id: str, *, audience: str, text: str, public: bool, by: str
) -> list[int]:
    """Queue ``text`` for every channel of ``audience``; return the notification ids.

    ``public`` marks it written for the public (a status update, the only kind a public
    audience such as customers receives); otherwise it is an internal update.
    """
    words = bounded("the message", text, MAX_UPDATE)
    if not words:
        raise InvalidInput("an update needs a message (--message TEXT)")
    author = bounded("the author's name", by, 200) or by
    known = audiences_of(kernel.settings.notifications)
    if audience not in known:
        raise InvalidInput(
            f"unknown audience {audience!r} (audiences in ic.yaml: {', '.join(known) or 'none'})",
            hint="add a channel with that audience under `notifications` in ic.yaml",
        )
    if audience in PUBLIC_AUDIENCES and not public:
        raise InvalidInput(
            f'{audience!r} hears only public updates: add --public (API: "public": true)'
        )
    kind = MessageKind.STATUS_UPDATE if public else MessageKind.INTERNAL_UPDATE
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        journal.event(
            inc,
            "update.posted",
            f"{author} to {audience}{' (public)' if public else ''}: {words}",
        )
        rows = journal.tell(
            inc,
            kind,
            {"headline": f"update from {author}", "text": words, "by": author},
            audience=audience,
            public=public,
        )
        journal.session.flush()
        return [row.id for row in rows]


def deliveries(kernel: Kernel, ids: list[int]) -> list[Delivered]:
    """What became of these notifications so far."""
    with kernel.store.session() as session:
        rows = session.scalars(
            select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
        ).all()
        return [
            Delivered(r.id, r.channel, r.audience, r.status, r.detail, r.attempts, r.public)
            for r in rows
        ]
