"""Bearer tokens, HMAC-signed webhooks, and the request body limit."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from incident_commander.web.errors import RequestRejected

__all__ = ["SIGNATURE_HEADER", "BodyLimit", "check_access", "sign"]

SIGNATURE_HEADER = "X-IC-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_access(request: Request, body: bytes | None, *, webhook: bool) -> None:
    """Allow the request, or raise 401. With no token and no secret, everything is allowed."""
    token: str | None = request.app.state.token
    secret: str | None = request.app.state.webhook_secret
    if token is None and (secret is None or not webhook):
        return
    given = request.headers.get("authorization", "")
    if token is not None and given.startswith("Bearer "):
        if hmac.compare_digest(given[7:].encode(), token.encode()):
            return
        raise RequestRejected(401, "the bearer token is not valid")
    if webhook and secret is not None and body is not None:
        signature = request.headers.get(SIGNATURE_HEADER.lower(), "")
        if signature and hmac.compare_digest(signature.encode(), sign(secret, body).encode()):
            return
        if signature:
            raise RequestRejected(401, f"the {SIGNATURE_HEADER} signature does not match the body")
    what = "an Authorization: Bearer token"
    if webhook and secret is not None:
        what += f" or an {SIGNATURE_HEADER} signature"
    raise RequestRejected(401, f"this endpoint needs {what}")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        app = scope.get("app")
        metrics = getattr(getattr(app, "state", None), "metrics", None)
        if metrics is not None:
            metrics.rejected.labels("too_large").inc()
        body = f'{{"error": "request body over the {self.limit} byte limit"}}'.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
