"""A small real HTTP service run from a Capistrano-style release folder.

``current/release.json`` decides its behaviour: a healthy release answers ``/health`` with
200, a bad one with 500; so does a flag file with the breaking flag on, or a database whose
schema lacks what checkout reads. ``start``, ``stop`` and ``restart`` manage it as a
background process.
Usage: ``python -m incident_commander.demo.service ACTION --workdir DIR --port N`` where
ACTION is serve, start, stop or restart.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import sys
import threading
import time
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = [
    "BROKEN_BY_FLAG",
    "DATABASE",
    "FLAGS",
    "flag_on",
    "main",
    "schema_broken",
    "start",
    "stop",
    "wait_listening",
]


def _pidfile(workdir: Path) -> Path:
    return workdir / "run" / "service.pid"


FLAGS = "flags.json"  # flagd format; the flag below, when on, breaks checkout
BROKEN_BY_FLAG = "new-checkout"
DATABASE = "app.db"  # SQLite; checkout needs orders.total, which a bad migration renames


def flag_on(workdir: Path) -> bool:
    """Whether the flagd flag that breaks checkout is served on now."""
    try:
        flags = json.loads((workdir / FLAGS).read_text(encoding="utf-8"))["flags"]
        flag = flags[BROKEN_BY_FLAG]
        return bool(flag["state"] == "ENABLED" and flag["variants"][flag["defaultVariant"]])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def schema_broken(workdir: Path) -> bool:
    """Whether the database lacks the column checkout reads (only when there is a database)."""
    path = workdir / DATABASE
    if not path.exists():
        return False
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
            db.execute("SELECT total FROM orders LIMIT 1").fetchall()
    except sqlite3.Error:
        return True
    return False


def serve(workdir: Path, port: int) -> None:
    """Serve the release that ``current`` points at, until terminated.

    The release says whether it is healthy; a flag file and a database, when the workdir has
    them, are read on every request, so turning the flag off or migrating back heals the
    service without a restart.
    """
    release = json.loads((workdir / "current" / "release.json").read_text(encoding="utf-8"))
    version = str(release.get("version"))
    release_healthy = bool(release.get("healthy"))

    def healthy() -> bool:
        return release_healthy and not flag_on(workdir) and not schema_broken(workdir)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                self._metrics()
                return
            ok = healthy()
            if self.path.startswith("/health"):
                status = 200 if ok else 500
                body = {"status": "ok" if ok else "error", "version": version}
            else:
                status = 200 if ok else 500
                body = {"service": "demo-web", "version": version}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _metrics(self) -> None:
            if healthy():
                text = (
                    "# HELP demo_release_info The release being served.\n"
                    "# TYPE demo_release_info gauge\n"
                    f'demo_release_info{{version="{version}"}} 1\n'
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
            else:
                text = b"release broken\n"
                self.send_response(500)
                self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(
        signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start()
    )
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()


def wait_listening(port: int, timeout_s: float = 10.0) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port`` within the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.01)
    return False


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie awaiting its parent counts as gone)."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def stop(workdir: Path) -> bool:
    """Stop the running service; ``True`` if one was running."""
    pidfile = _pidfile(workdir)
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pidfile.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.005)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    return True


def start(workdir: Path, port: int) -> int:
    """Start the service in the background and wait until it listens; return its pid."""
    (workdir / "run").mkdir(parents=True, exist_ok=True)
    log = workdir / "run" / "service.log"
    argv = [
        sys.executable,
        "-m",
        "incident_commander.demo.service",
        "serve",
        "--workdir",
        str(workdir),
        "--port",
        str(port),
    ]
    pid = os.posix_spawn(
        sys.executable,
        argv,
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    _pidfile(workdir).write_text(str(pid))
    if not wait_listening(port):
        raise SystemExit(f"demo service did not start listening on port {port}")
    return pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m incident_commander.demo.service")
    parser.add_argument("action", choices=["serve", "start", "stop", "restart"])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    if args.action == "serve":
        serve(workdir, args.port)
        return 0
    if args.action in ("stop", "restart"):
        stopped = stop(workdir)
        print("stopped" if stopped else "was not running")
    if args.action in ("start", "restart"):
        release = os.readlink(workdir / "current")
        print(f"started pid {start(workdir, args.port)} serving {release}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
