"""The watcher after resolution: runs each extended-monitoring checkpoint when it falls due.

It runs inside ``ic serve`` (a thread, like the probe loop) and alone as ``ic watch``. It keeps
nothing of its own: every look reads the checkpoints from the store, so a watcher started again
after a stop runs what fell due meanwhile and nothing twice (see ``protocol/steps/monitor.py``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from incident_commander.protocol.engine import Engine

__all__ = ["Watcher"]

log = logging.getLogger("incident_commander")


class Watcher:
    """Every ``interval`` seconds, run the checkpoints that are due; report each one."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float | None = None,
        on_checkpoint: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.interval = interval or engine.settings.monitoring.every_seconds
        self.on_checkpoint = on_checkpoint
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self.run, name="ic-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(timeout=60)

    def run_once(self) -> list[dict[str, Any]]:
        """One look: expire approvals past their deadline, remind of overdue status updates,
        action items and post-mortems, run the checkpoints that are due; a failure is logged and
        looked at again next time."""
        try:
            for incident_id in self.engine.expire_approvals():
                log.warning("%s: an approval expired unanswered", incident_id)
        except Exception:
            log.exception("expiring approvals failed")
        try:
            for incident_id in self.engine.remind_updates():
                log.warning(
                    "%s: a status update is overdue; the responders were reminded", incident_id
                )
        except Exception:
            log.exception("reminding of overdue status updates failed")
        try:
            for reminder in self.engine.remind_overdue():
                log.info("%s", reminder)
        except Exception:
            log.exception("reminding overdue action items and post-mortems failed")
        try:
            ran = self.engine.monitor_due()
        except Exception:
            log.exception("running extended-monitoring checkpoints failed")
            return []
        for found in ran:
            if self.on_checkpoint is not None:
                self.on_checkpoint(found)
        return ran

    def run(self) -> None:
        """Look now, then every ``interval`` seconds until stopped."""
        self.run_once()
        while not self.stopping.wait(self.interval):
            self.run_once()
