"""The Commander: settings, store and engine, handed to every door (CLI, web, agents)."""

from __future__ import annotations

import os
import threading

from incident_commander.config import Settings, load_settings
from incident_commander.notify.messages import warm_up
from incident_commander.protocol.engine import Engine, EventListener
from incident_commander.store.db import Store, open_store

__all__ = ["Commander"]


class Commander:
    """The whole runtime: one object per process."""

    def __init__(self, settings: Settings, *, on_event: EventListener | None = None) -> None:
        self.settings = settings
        self.store: Store = open_store(settings.db_url)
        self.engine = Engine(settings, self.store, on_event=on_event)

    @classmethod
    def from_config(
        cls, path: str | os.PathLike[str] | None = None, *, on_event: EventListener | None = None
    ) -> Commander:
        """Load ``ic.yaml`` (or the defaults) and open the store."""
        return cls(load_settings(path), on_event=on_event)

    def warm_up(self) -> None:
        """For a door that waits for signals (``ic serve``, the demo): compile, on another
        thread meanwhile, the message templates the first incident's steps would otherwise
        compile while they hold the store."""
        formats = tuple({channel.format for channel in self.settings.notifications})
        threading.Thread(target=warm_up, args=(formats,), name="ic-warm-up", daemon=True).start()

    def close(self, *, flush_seconds: float = 30) -> None:
        """Deliver the notifications still queued (waiting at most ``flush_seconds``), then
        release the store. Messages still undelivered stay queued for the next run; diagnostics
        still running in the background get as long to finish."""
        self.engine.diagnostics.wait(flush_seconds)
        self.engine.outbox.flush(flush_seconds)
        self.store.dispose()
