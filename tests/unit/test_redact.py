"""A secret is masked as written and in the encodings a command prints it in."""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

import pytest

from incident_commander.redact import MASK, redact

SECRET = "pa55/word+Tok?n=x"
RAW = SECRET.encode()

ENCODED = {
    "base64": base64.b64encode(RAW).decode(),
    "base64 without padding": base64.b64encode(RAW).decode().rstrip("="),
    "url-safe base64": base64.urlsafe_b64encode(RAW).decode(),
    "url-safe base64 without padding": base64.urlsafe_b64encode(RAW).decode().rstrip("="),
    "percent-encoded": quote(SECRET, safe=""),
    "percent-encoded, path": quote(SECRET),
    "form-encoded": quote_plus(SECRET),
    "percent-encoded, lower case": quote(SECRET, safe="").replace("%2F", "%2f"),
    "hex": RAW.hex(),
    "hex, upper case": RAW.hex().upper(),
}


@pytest.mark.parametrize("encoded", ENCODED.values(), ids=ENCODED.keys())
def test_encoded_secret_is_masked(encoded: str) -> None:
    assert encoded != SECRET

    shown = redact(f"sent {encoded} to the API", [SECRET])

    assert shown == f"sent {MASK} to the API"


@pytest.mark.parametrize("user", ["a", "ab", "abc"])
def test_secret_inside_basic_auth_is_masked(user: str) -> None:
    header = base64.b64encode(f"{user}:{SECRET}".encode()).decode()

    shown = redact(f"Authorization: Basic {header}", [SECRET])

    assert MASK in shown
    # At most a character or two around the mask (bits shared with the user name) remain.
    left, right = shown.removeprefix("Authorization: Basic ").split(MASK)
    assert len(right) <= 3
    assert len(left) <= len(user) * 4 // 3 + 2


def test_text_cut_inside_a_secret_masks_its_beginning() -> None:
    assert redact(f"token: {SECRET[:6]}", [SECRET], cut=True) == f"token: {MASK}"
    assert redact(f"token: {SECRET[:6]}", [SECRET]) == f"token: {SECRET[:6]}"
