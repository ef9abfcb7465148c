"""HMAC-SHA256 signatures of HTTP bodies, one scheme for webhooks in and events out.

``X-IC-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<path>.<body>">``: the signature
covers the moment it was made, the path it was made for and the body, so a captured delivery
cannot be replayed later or to another receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "digest", "sign"]

SIGNATURE_HEADER = "X-IC-Signature"


def digest(secret: str, timestamp: int, path: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<path>." + body`` under ``secret``."""
    signed = f"{timestamp}.{path}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, path: str, timestamp: int | None = None) -> str:
    """The signature header value for ``body`` posted to ``path``: ``t=<unix>,v1=<hex>``."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},v1={digest(secret, moment, path, body)}"
