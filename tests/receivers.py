"""Real local receivers for notification tests: an SMTP server (aiosmtpd) and an HTTP server that
records every request, or holds every request open without answering (a hanging channel)."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.workspace import free_port

__all__ = ["HttpReceiver", "Mail", "Request", "http_receiver", "smtp_server"]


@dataclass
class Mail:
    """One e-mail as the SMTP server received it."""

    sender: str
    recipients: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        """The decoded text of every part, joined."""
        parts = []
        for part in self.message.walk():
            if part.get_content_maintype() == "text":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    parts.append(payload.decode(part.get_content_charset() or "utf-8"))
        return "\n".join(parts)


class _Inbox:
    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(
            Mail(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                email.message_from_bytes(
                    envelope.original_content or envelope.content, policy=email.policy.default
                ),
            )
        )
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[str, list[Mail]]]:
    """An SMTP server on loopback; yields ``HOST:PORT`` and the list mails arrive in."""
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"127.0.0.1:{port}", inbox.mails
    finally:
        controller.stop()


@dataclass
class Request:
    """One request as the HTTP receiver got it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """What the receiver got, and how it answers (``status``; ``hang`` holds requests open)."""

    url: str
    requests: list[Request] = field(default_factory=list)
    status: list[int] = field(default_factory=lambda: [200])
    hang: threading.Event | None = None

    def answer(self) -> int:
        """The status for the next request: the list's head, the last one repeated."""
        return self.status.pop(0) if len(self.status) > 1 else self.status[0]


@contextmanager
def http_receiver(*, hang: bool = False, status: list[int] | None = None) -> Iterator[HttpReceiver]:
    """An HTTP server on loopback recording each request; ``hang`` never answers."""
    released = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = HttpReceiver(
        url=f"127.0.0.1:{server.server_address[1]}",
        status=status or [200],
        hang=released if hang else None,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(
                Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            if receiver.hang is not None:
                receiver.hang.wait(120)
                return
            self.send_response(receiver.answer())
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        released.set()
        server.shutdown()
        server.server_close()
