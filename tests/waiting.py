"""Waiting for a state, never for a time: poll a condition until it holds or a deadline passes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_PAUSE = threading.Event()  # never set: ``wait`` is a pause between two looks


def until(condition: Callable[[], object], what: str, *, within: float = 60.0) -> None:
    """Return once ``condition()`` is true; fail naming ``what`` if it is not by ``within`` s."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        _PAUSE.wait(0.02)
