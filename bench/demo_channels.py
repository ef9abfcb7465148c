"""The demo's time to recover with every channel hanging, next to it with every channel healthy.

Each run plays the demo incident twice, its stakeholders' messages e-mailed as with
``ic demo --notify-smtp HOST:PORT``: once through a real local SMTP server (aiosmtpd), once
through a server that accepts every connection and never says a word (a hanging channel).
Time to recover is the demo's own measure: first failing probe → verified recovery. Messages
go out after the step that writes them has committed, on a worker of their own, so the goal is
the same median within noise.

Once the hanging run's incident is resolved, its server drops the connections it holds, so that
the run ends without waiting out each message's channel timeout; the recovery was measured
while every send hung.

Usage: python bench/demo_channels.py [--runs N]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from incident_commander.demo.scenario import run_demo

NOISE = 0.25  # seconds: a difference within this is noise on a shared machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class HangingServer:
    """Accepts TCP connections and never answers, until released (then drops each one)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.accepted = 0
        self.released = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self.released.is_set():
                    connection.close()
                    continue
                self.accepted += 1
                self.held.append(connection)

    def release(self) -> None:
        """Drop every held connection; later ones are dropped at once."""
        with self._lock:
            self.released.set()
            for connection in self.held:
                connection.close()
            self.held.clear()

    def close(self) -> None:
        self.release()
        self.listener.close()


class Mailbox:
    """A healthy SMTP server's handler: counts what arrives."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        return "250 OK"


def _healthy_run(workdir: Path) -> tuple[float, int]:
    mailbox = Mailbox()
    port = _free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        summary = run_demo(workdir, notify_smtp=f"127.0.0.1:{port}")
    finally:
        smtp.stop()
    if not summary["recovered"]:
        raise SystemExit(f"healthy run: the service did not recover; {summary['needs']}")
    return float(summary["time_to_recover_s"]), mailbox.received


def _hanging_run(workdir: Path) -> tuple[float, int]:
    hanging = HangingServer()

    def on_event(incident_id: str, kind: str, text: str) -> None:
        if kind == "incident.resolved":
            hanging.release()

    try:
        summary = run_demo(workdir, notify_smtp=hanging.address, on_event=on_event)
    finally:
        hanging.close()
    if not summary["recovered"]:
        raise SystemExit(f"hanging run: the service did not recover; {summary['needs']}")
    return float(summary["time_to_recover_s"]), hanging.accepted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    healthy: list[float] = []
    hanging: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            good, mails = _healthy_run(Path(tmp) / f"healthy-{n}")
            bad, held = _hanging_run(Path(tmp) / f"hanging-{n}")
            healthy.append(good)
            hanging.append(bad)
            print(
                f"run {n}: healthy channels {good:.3f} s ({mails} e-mail(s) delivered), "
                f"hanging channels {bad:.3f} s ({held} connection(s) left hanging)"
            )
            if held == 0:
                print("the hanging server was never reached: nothing was measured")
                return 1
    good, bad = statistics.median(healthy), statistics.median(hanging)
    verdict = "the same within noise" if abs(bad - good) <= NOISE else "NOT the same"
    print(f"\n{args.runs} run(s) of the demo incident, time to recover (first failing probe →")
    print("verified recovery):")
    print(f"median with every channel healthy: {good:.3f} s")
    print(f"median with every channel hanging: {bad:.3f} s")
    print(f"difference: {bad - good:+.3f} s ({verdict}; noise ±{NOISE:g} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
