"""Removing secrets from text before it reaches the evidence.

A secret is masked as written and in the encodings a command is likely to print it in:
base64 (standard and URL-safe, padded or not, and at any byte offset inside a longer encoded
value such as ``user:password``), percent-encoding, and hex.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "looks_secret", "redact", "secret_forms"]

MASK = "[REDACTED]"
_SECRET_KEY = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE|CREDENTIAL)", re.I)
_MIN_SECRET = 3
# Encoded fragments shorter than this would match ordinary text too often.
_MIN_FORM = 4
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def looks_secret(key: str) -> bool:
    """Whether a variable or field name suggests its value is a secret."""
    return bool(_SECRET_KEY.search(key))


def _base64_forms(raw: bytes) -> set[str]:
    """Base64 renderings of ``raw``: whole, and the part fixed by ``raw`` at each offset."""
    forms: set[str] = set()
    encoders: tuple[Callable[[bytes], bytes], ...] = (base64.b64encode, base64.urlsafe_b64encode)
    for encode in encoders:
        whole = encode(raw).decode("ascii")
        forms.update({whole, whole.rstrip("=")})
        for offset in (0, 1, 2):
            # Inside a longer value the secret starts `offset` bytes into a 3-byte group: keep
            # only the characters whose six bits all come from the secret.
            text = encode(b"\0" * offset + raw).decode("ascii").rstrip("=")
            first = -(-offset * 8 // 6)
            last = (offset + len(raw)) * 8 // 6
            forms.add(text[first:last])
    return forms


def _percent_forms(secret: str) -> set[str]:
    return {quote(secret, safe=""), quote(secret), quote_plus(secret)}


def _form_pattern(form: str) -> str:
    """``form`` as a regular expression; its percent escapes match in either case."""
    parts = _PERCENT.split(form)
    escapes = [f"%(?i:{code[1:]})" for code in _PERCENT.findall(form)]
    pattern = re.escape(parts[0])
    for escape, part in zip(escapes, parts[1:], strict=True):
        pattern += escape + re.escape(part)
    return pattern


@lru_cache(maxsize=256)
def secret_forms(secret: str) -> frozenset[str]:
    """``secret`` and its common encodings, each long enough to mask safely."""
    if len(secret) < _MIN_SECRET:
        return frozenset()
    try:
        raw = secret.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = secret.encode("utf-8", "replace")
    forms = {secret, raw.hex(), raw.hex().upper()}
    forms |= _base64_forms(raw)
    forms |= _percent_forms(secret)
    return frozenset(form for form in forms if form == secret or len(form) >= _MIN_FORM)


@lru_cache(maxsize=64)
def _pattern(forms: frozenset[str]) -> re.Pattern[str]:
    # Longest first, so a whole value wins over a fragment of it at the same position.
    ordered = sorted(forms, key=lambda form: (-len(form), form))
    return re.compile("|".join(_form_pattern(form) for form in ordered))


def _all_forms(secrets: Iterable[str]) -> frozenset[str]:
    forms: set[str] = set()
    for secret in secrets:
        forms |= secret_forms(secret)
    return frozenset(forms)


def _mask_cut_tail(text: str, forms: frozenset[str]) -> str:
    """Mask the end of ``text`` when it is the beginning of a secret (the rest was cut)."""
    longest = 0
    for form in forms:
        for size in range(min(len(form) - 1, len(text)), longest, -1):
            if text.endswith(form[:size]):
                longest = size
                break
    return text[: len(text) - longest] + MASK if longest else text


def redact(text: str, secrets: list[str], *, key: str | None = None, cut: bool = False) -> str:
    """``text`` with every secret value masked; the whole value when ``key`` looks secret.

    ``cut`` says ``text`` was cut short (a size limit, a deadline): a secret whose beginning
    ends the text is masked too. Redact whole text, then clip, never the other way round.
    """
    if key is not None and looks_secret(key) and text:
        return MASK
    forms = _all_forms(secrets)
    if not forms or not text:
        return text
    text = _pattern(forms).sub(MASK, text)
    return _mask_cut_tail(text, forms) if cut else text
