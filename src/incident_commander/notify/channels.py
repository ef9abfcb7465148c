"""Built-in channels: the console (stderr) and an append-only file (a team inbox)."""

from __future__ import annotations

import sys
from pathlib import Path

from incident_commander.clock import isoformat, utcnow
from incident_commander.notify.base import Delivery, Message, Notifier, NotifierConfig

__all__ = ["ConsoleNotifier", "FileNotifier"]


class ConsoleNotifier(Notifier):
    """Print the message on standard error."""

    slug = "console"
    title = "Console"

    class Config(NotifierConfig):
        kind: str = "console"

    def send(self, config: NotifierConfig, message: Message) -> Delivery:
        print(f"[NOTIFY {config.name}] {message.subject}", file=sys.stderr)
        return Delivery(ok=True, detail="printed to stderr")


class FileNotifier(Notifier):
    """Append the message to a file, one block per message."""

    slug = "file"
    title = "File inbox"

    class Config(NotifierConfig):
        kind: str = "file"
        path: str

        def prepared(self, base_dir: Path) -> FileNotifier.Config:
            """The inbox path made absolute against the workspace folder."""
            path = Path(self.path)
            return self.model_copy(
                update={"path": str(path if path.is_absolute() else base_dir / path)}
            )

        def target(self) -> str:
            return self.path

    def send(self, config: NotifierConfig, message: Message) -> Delivery:
        assert isinstance(config, FileNotifier.Config)
        path = Path(config.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as inbox:
                inbox.write(f"--- {isoformat(utcnow())} {message.subject}\n{message.body}\n")
        except OSError as exc:
            return Delivery(ok=False, detail=f"could not write {path}: {exc.strerror or exc}")
        return Delivery(ok=True, detail=f"appended to {path}")
