"""Delivering notifications after the step that wrote them has committed (an outbox).

A step adds its messages as ``pending`` notification rows in its own transaction. Once it
commits, their ids come here; one worker thread sends each through its channel, outside any
transaction, then records the result (``sent`` or ``failed``, the channel's answer, when, and
which attempt) with a timeline line, in a short transaction of its own. A slow or dead channel
therefore never holds the store, a webhook's answer or a rollback. A failed message is tried again
(``retry_failed``, which ``ic serve`` runs every minute) up to ``MAX_ATTEMPTS`` times, each
retry waiting twice as long as the one before (``RETRY_AFTER_SECONDS``, then double).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from incident_commander.clock import utcnow
from incident_commander.notify.base import Message, NotifierConfig
from incident_commander.plugins import NOTIFIERS
from incident_commander.store.models import Notification
from incident_commander.store.state import resolution_of

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy.orm import Session

    from incident_commander.config import Settings
    from incident_commander.protocol.journal import Journal
    from incident_commander.store.db import Store
    from incident_commander.store.models import Incident


def retry_due(attempts: int, last_try: datetime | None, now: datetime) -> bool:
    """Whether a failed message may be tried again: ``RETRY_AFTER_SECONDS`` after its first
    try, then twice as long after each further one."""
    if last_try is None:
        return True
    wait = RETRY_AFTER_SECONDS * (1 << max(attempts - 1, 0))
    return (now - last_try).total_seconds() >= wait


class Steps(Protocol):
    """What the outbox needs of the kernel that owns it (kept structural: no import back)."""

    settings: Settings
    store: Store
    steps_idle: threading.Event

    def transaction(self, *, sync: bool = True) -> AbstractContextManager[Journal]: ...

    def load(self, session: Session, incident_id: str, *, lock: bool = True) -> Incident: ...

    def sync(self, incident_id: str, *, postmortem: bool = False) -> None: ...


__all__ = ["MAX_ATTEMPTS", "RETRY_AFTER_SECONDS", "Outbox", "retry_due"]

MAX_ATTEMPTS = 3
RETRY_AFTER_SECONDS = 30.0
RECORD_WAITS_AT_MOST_S = 2.0
"""A sent message's record waits for the steps taken one after another to pause (a command,
a validation window, the end), so the rollback does not queue behind it; never longer."""
log = logging.getLogger("incident_commander")


@dataclass(frozen=True)
class _Letter:
    """What the worker needs to send one message, read before sending."""

    id: int
    incident_id: str
    channel: str
    audience: str
    subject: str
    body: str


class Outbox:
    """Delivers committed notifications: one worker thread per channel, each in order.

    A channel that hangs holds up only its own messages, never another channel's.
    """

    def __init__(self, engine: Steps) -> None:
        self.engine = engine
        self._queues: dict[str, deque[_Letter | tuple[int, str]]] = {}
        self._workers: set[str] = set()
        self._busy = 0
        self._changed = threading.Condition()
        self._stale: set[str] = set()
        # Told of incidents whose evidence a delivery left behind the store. Unset, they are
        # re-rendered by ``flush`` (and by the next step on each incident, which renders it
        # anyway): a delivery never renders a folder while a step is working.
        self.on_stale: Callable[[set[str]], None] | None = None

    def submit(self, rows: list[Notification]) -> None:
        """Deliver these committed notifications soon, in the background."""
        self._enqueue(
            [
                _Letter(row.id, row.incident_id, row.channel, row.audience, row.subject, row.body)
                for row in rows
            ]
        )

    def _enqueue(self, items: list[_Letter | tuple[int, str]]) -> None:
        """Queue letters (read already) or (id, channel) pairs (read again before sending)."""
        with self._changed:
            for item in items:
                channel = item.channel if isinstance(item, _Letter) else item[1]
                self._queues.setdefault(channel, deque()).append(item)
                self._busy += 1
                if channel not in self._workers:
                    self._workers.add(channel)
                    threading.Thread(
                        target=self._work, args=(channel,), name=f"ic-outbox-{channel}", daemon=True
                    ).start()
            self._changed.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything submitted so far was tried, then bring the evidence of the
        incidents it touched up to date; ``False`` if time ran out first."""
        idle = self.engine.steps_idle.is_set()
        self.engine.steps_idle.set()  # waiting here, the steps are paused
        try:
            with self._changed:
                done = self._changed.wait_for(lambda: self._busy == 0, timeout)
                stale, self._stale = self._stale, set()
        finally:
            if not idle:
                self.engine.steps_idle.clear()
        for incident_id in sorted(stale):
            self.engine.sync(incident_id)
        return done

    def retry_failed(self) -> int:
        """Submit failed notifications that have attempts left and whose wait is over; return
        how many."""
        now = utcnow()
        with self.engine.store.session() as session:
            found = session.execute(
                select(
                    Notification.id,
                    Notification.channel,
                    Notification.attempts,
                    Notification.delivered_at,
                )
                .where(Notification.status == "failed", Notification.attempts < MAX_ATTEMPTS)
                .order_by(Notification.id)
            ).all()
        rows = [row for row in found if retry_due(row.attempts, row.delivered_at, now)]
        self._enqueue([(row.id, row.channel) for row in rows])
        return len(rows)

    def _work(self, channel: str) -> None:
        queue = self._queues[channel]
        while True:
            with self._changed:
                if not self._changed.wait_for(lambda: bool(queue), timeout=5):
                    self._workers.discard(channel)
                    return
                item = queue.popleft()
            try:
                self.deliver(item)
            except Exception:
                log.exception("recording notification %s failed", item)
            finally:
                with self._changed:
                    self._busy -= 1
                    self._changed.notify_all()

    def deliver(self, item: _Letter | tuple[int, str] | int) -> None:
        """Send one notification now and record what happened (a no-op once it was sent).

        ``item`` is the letter a step just committed, or a notification's id to read again.
        """
        if isinstance(item, _Letter):
            letter: _Letter | None = item
        else:
            letter = self._read(item[0] if isinstance(item, tuple) else item)
        if letter is None:
            return
        notification_id = letter.id
        ok, detail = self._send(letter)
        sent_at = utcnow()
        self.engine.steps_idle.wait(RECORD_WAITS_AT_MOST_S)
        with self.engine.transaction(sync=False) as journal:
            row = journal.session.get(Notification, notification_id, with_for_update=True)
            if row is None or row.status == "sent":
                return
            inc = self.engine.load(journal.session, letter.incident_id)
            row.attempts += 1
            row.ok, row.detail = ok, detail
            row.status = "sent" if ok else "failed"
            row.delivered_at = sent_at
            attempt = f" (attempt {row.attempts})" if row.attempts > 1 else ""
            journal.event(
                inc,
                "notification.sent" if ok else "notification.failed",
                f"{letter.channel} ({letter.audience}): {letter.subject} — {detail}{attempt}",
            )
            self._behind(inc.id)
            if ok and inc.resolution and not resolution_of(inc).stakeholders_informed:
                inc.resolution = {**inc.resolution, "stakeholders_informed": True}

    def _behind(self, incident_id: str) -> None:
        if self.on_stale is not None:
            self.on_stale({incident_id})
            return
        with self._changed:
            self._stale.add(incident_id)

    def _read(self, notification_id: int) -> _Letter | None:
        with self.engine.store.session() as session:
            row = session.get(Notification, notification_id)
            if row is None or row.status == "sent" or row.attempts >= MAX_ATTEMPTS:
                return None
            return _Letter(
                row.id, row.incident_id, row.channel, row.audience, row.subject, row.body
            )

    def _channel(self, name: str) -> NotifierConfig | None:
        for channel in self.engine.settings.notifications:
            if channel.name == name:
                return channel
        return None

    def _send(self, letter: _Letter) -> tuple[bool, str]:
        channel = self._channel(letter.channel)
        if channel is None:
            return False, f"channel {letter.channel!r} is no longer configured"
        try:
            notifier = NOTIFIERS.load(channel.kind)()
            message = Message(subject=letter.subject, body=letter.body, format=channel.format)
            delivery = notifier.send(channel, message)
        except Exception as exc:  # a broken channel must not stop the incident
            return False, channel.scrub(f"{type(exc).__name__}: {str(exc)[:500]}")
        return delivery.ok, channel.scrub(delivery.detail)
