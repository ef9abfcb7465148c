"""A real HTTP server on loopback that records every request and answers as the test says.

A route answers with a fixed ``Reply``, or a function of the request (to keep state, like a
flag service whose flag turns off when asked). ``Reply(hang=True)`` holds the request until
the server stops, for a client's timeout; an unknown route answers 404.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Received", "Recorder", "Reply", "recording_server"]


@dataclass(frozen=True)
class Received:
    """One request as the server saw it; header names in lower case."""

    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = ""
    hang: bool = False


Answer = Reply | Callable[[Received], Reply]


@dataclass
class Recorder:
    """The server's routes and what it received, in order."""

    url: str = ""
    routes: dict[tuple[str, str], Answer] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, path: str, reply: Answer) -> None:
        self.routes[(method.upper(), path)] = reply

    def received(self, method: str, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads ``recorder.requests``."""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            request = Received(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            with recorder.lock:
                recorder.requests.append(request)
            answer = recorder.routes.get(
                (self.command, self.path), Reply(404, '{"error":"no route"}')
            )
            reply = answer(request) if callable(answer) else answer
            if reply.hang:
                recorder.released.wait(120)
                self.close_connection = True
                return
            data = reply.body.encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


@contextmanager
def recording_server() -> Iterator[Recorder]:
    """A recorder serving on 127.0.0.1 at a port the kernel picks, until the block ends."""
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    server.daemon_threads = True
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield recorder
    finally:
        recorder.released.set()
        server.shutdown()
        server.server_close()
        thread.join()
