"""``/status`` and ``/status.json``: the public status page, rendered from the store on request.

No token is needed: the page holds only what was written for the public (see
``reports/status_page.py``). A rendering is kept for ``CACHE_SECONDS`` so that a crowd of
readers during an incident costs the store one query every few seconds, not one per reader.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from incident_commander.reports.status_page import build_status, render_page

__all__ = ["CACHE_SECONDS", "router"]

CACHE_SECONDS = 3.0
_HEADERS = {
    "Cache-Control": f"public, max-age={CACHE_SECONDS:g}",
    # Nothing on the page comes from anywhere: no script, no font, no image, inline styles only.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(tags=["status"])


class _Recent:
    """The latest rendering of the page's content, and when it was made."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.made = float("-inf")
        self.status: dict[str, Any] = {}
        self.page = ""


_made_for_app = threading.Lock()


def _recent(request: Request) -> _Recent:
    state = request.app.state
    with _made_for_app:
        if not hasattr(state, "status_page"):
            state.status_page = _Recent()
    recent: _Recent = state.status_page
    return recent


def _current(request: Request) -> _Recent:
    recent = _recent(request)
    with recent.lock:
        if time.monotonic() - recent.made > CACHE_SECONDS:
            commander = request.app.state.commander
            recent.status = build_status(commander.store, commander.settings)
            recent.page = render_page(recent.status)
            recent.made = time.monotonic()
    return recent


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request) -> HTMLResponse:
    """The public status page: services, open incidents, the last 90 days."""
    return HTMLResponse(_current(request).page, headers=_HEADERS)


@router.get("/status.json")
def status_json(request: Request) -> JSONResponse:
    """The status page's content as JSON."""
    return JSONResponse(_current(request).status, headers=_HEADERS)
