"""Removing secrets from text before it reaches the evidence."""

from __future__ import annotations

import re

__all__ = ["MASK", "looks_secret", "redact"]

MASK = "[REDACTED]"
_SECRET_KEY = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE|CREDENTIAL)", re.I)


def looks_secret(key: str) -> bool:
    """Whether a variable or field name suggests its value is a secret."""
    return bool(_SECRET_KEY.search(key))


def redact(text: str, secrets: list[str], *, key: str | None = None) -> str:
    """``text`` with every secret value masked; the whole value when ``key`` looks secret."""
    if key is not None and looks_secret(key) and text:
        return MASK
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
