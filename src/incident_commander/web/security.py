"""Bearer tokens, HMAC-signed webhooks, and the request body limit.

A webhook signature covers the moment it was made, the path it was made for and the body:
``X-IC-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<path>.<body>">``. A signature
older or further ahead than the tolerance, or made for another path, is refused, so a captured
delivery cannot be sent again later or to another receiver.
"""

from __future__ import annotations

import hmac
import time

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from incident_commander.signing import SIGNATURE_HEADER, sign
from incident_commander.signing import digest as _digest
from incident_commander.web.errors import RequestRejected

__all__ = ["SIGNATURE_HEADER", "SIGNATURE_TOLERANCE", "BodyLimit", "check_access", "sign"]

SIGNATURE_TOLERANCE = 300.0


def _parse(header: str) -> tuple[int, list[str]]:
    """The timestamp and the ``v1`` digests of a signature header, or 401 if it has neither."""
    stamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            stamp = int(value)
        elif key == "v1" and value:
            digests.append(value)
    if stamp is None or not digests:
        raise RequestRejected(
            401, f"the {SIGNATURE_HEADER} header must read t=<unix seconds>,v1=<hex HMAC-SHA256>"
        )
    return stamp, digests


def _verify(request: Request, secret: str, body: bytes, header: str) -> None:
    stamp, digests = _parse(header)
    tolerance: float = getattr(request.app.state, "signature_tolerance", SIGNATURE_TOLERANCE)
    skew = time.time() - stamp
    if abs(skew) > tolerance:
        when = f"{int(skew)} s ago" if skew > 0 else f"{int(-skew)} s ahead"
        raise RequestRejected(
            401, f"the {SIGNATURE_HEADER} signature was made {when}; at most {tolerance:g} s apart"
        )
    expected = _digest(secret, stamp, request.url.path, body).encode()
    if not any(hmac.compare_digest(d.encode(), expected) for d in digests):
        raise RequestRejected(
            401, f"the {SIGNATURE_HEADER} signature does not match this path and body"
        )


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
        if signature:
            _verify(request, secret, body, signature)
            return
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
