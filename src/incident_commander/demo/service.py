"""A small real HTTP service run from a Capistrano-style release folder.

``current/release.json`` decides its behaviour: a healthy release answers ``/health`` with
200, a bad one with 500. ``start``, ``stop`` and ``restart`` manage it as a background process.
Usage: ``python -m incident_commander.demo.service ACTION --workdir DIR --port N`` where
ACTION is serve, start, stop or restart.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["main", "start", "stop", "wait_listening"]


def _pidfile(workdir: Path) -> Path:
    return workdir / "run" / "service.pid"


def serve(workdir: Path, port: int) -> None:
    """Serve the release that ``current`` points at, until terminated."""
    release = json.loads((workdir / "current" / "release.json").read_text(encoding="utf-8"))
    version = str(release.get("version"))
    healthy = bool(release.get("healthy"))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                self._metrics()
                return
            if self.path.startswith("/health"):
                status = 200 if healthy else 500
                body = {"status": "ok" if healthy else "error", "version": version}
            else:
                status = 200 if healthy else 500
                body = {"service": "demo-web", "version": version}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _metrics(self) -> None:
            if healthy:
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
