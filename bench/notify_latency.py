"""Paging latency: an alert posted to `ic serve` → its page in a mailbox and at an HTTP receiver.

Each round posts one alert for a service of its own to a real `ic serve` (a fresh SQLite store);
the incident it opens is assessed by the default rules and its "incident opened" message goes
out through Apprise to a local SMTP server (aiosmtpd) and to a local HTTP receiver (``json://``).
The time from the POST to each arrival is measured on this machine's monotonic clock. Goal: a
median of at most 1 s for both.

Usage: python bench/notify_latency.py [--rounds N]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiosmtpd.controller import Controller

GOAL_S = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Arrivals:
    """When a message naming each service arrived, per receiver."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, str], float] = {}
        self.changed = threading.Condition()

    def saw(self, receiver: str, text: str, services: list[str]) -> None:
        now = time.monotonic()
        with self.changed:
            for service in services:
                if f"] {service}:" in text and "returns 500" in text:
                    self.at.setdefault((receiver, service), now)
            self.changed.notify_all()

    def wait(self, receiver: str, service: str, timeout: float) -> float | None:
        with self.changed:
            self.changed.wait_for(lambda: (receiver, service) in self.at, timeout)
            return self.at.get((receiver, service))


def _receivers(arrivals: Arrivals, services: list[str]) -> tuple[Controller, ThreadingHTTPServer]:
    class Mailbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            arrivals.saw("smtp", envelope.content.decode("utf-8", "replace"), services)
            return "250 OK"

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrivals.saw("http", body.decode("utf-8", "replace"), services)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    return smtp, http


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    services = [f"web{n}" for n in range(args.rounds)]
    arrivals = Arrivals()
    smtp, http = _receivers(arrivals, services)
    mail_to = f"mailto://127.0.0.1:{smtp.port}?from=ic@example.com&to=oncall@example.com"
    config = {
        "services": {name: {} for name in services},
        "notifications": [
            {"name": "mail", "kind": "apprise", "url": mail_to, "audience": "responders"},
            {
                "name": "hook",
                "kind": "apprise",
                "url": f"json://127.0.0.1:{http.server_address[1]}/page",
                "audience": "responders",
            },
        ],
    }
    port = free_port()
    delays: dict[str, list[float]] = {"smtp": [], "http": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "ic.yaml").write_text(yaml.safe_dump(config))
        ic = [str(Path(sys.executable).parent / "ic"), "serve", "--port", str(port), "--no-probes"]
        with (root / "serve.log").open("ab") as log:
            server = subprocess.Popen(ic, cwd=root, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while not _healthy(url):
                if time.monotonic() > deadline or server.poll() is not None:
                    print((root / "serve.log").read_text())
                    return 1
                time.sleep(0.05)
            for service in services:
                alert = {"summary": f"checkout returns 500 on {service}", "service": service}
                alert |= {"severity": "critical"}
                started = time.monotonic()
                answer = httpx.post(f"{url}/webhooks/generic", json={"alerts": [alert]})
                answer.raise_for_status()
                for receiver in ("smtp", "http"):
                    arrived = arrivals.wait(receiver, service, timeout=30)
                    if arrived is None:
                        print(f"{service}: no page reached {receiver} within 30 s")
                        return 1
                    delays[receiver].append(arrived - started)
                print(
                    f"{service}: SMTP {delays['smtp'][-1]:.3f} s, HTTP {delays['http'][-1]:.3f} s"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
            smtp.stop()
            http.shutdown()
    mail, hook = statistics.median(delays["smtp"]), statistics.median(delays["http"])
    print(f"\n{args.rounds} incident(s), each opened by one alert posted to ic serve")
    print(f"median alert → page in the SMTP mailbox:  {mail:.3f} s (goal <= {GOAL_S:g} s)")
    print(f"median alert → page at the HTTP receiver: {hook:.3f} s (goal <= {GOAL_S:g} s)")
    return 0


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).is_success
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
