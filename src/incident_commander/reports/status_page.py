"""The public status page: what anyone may read about the services, built from the store.

Only what was written for the public reaches it. Per service: its state, ``Operational`` or the
public state of its open incidents. Per incident: its id, its service, when it began and was
resolved, its public state (Investigating, Identified, Monitoring, Resolved, exactly as
``notify.messages.public_state`` names the status) and the words of its latest public update (a
notification marked public: the engine's status updates, or ``ic notify --public``). Never an
incident's title, symptoms, alerts, commands, internal notes or anything else of the record.

An incident appears once its severity is confirmed or something public was said about it, so
a signal dismissed as a false positive never does. The page covers the open incidents and
those of the last ``HISTORY_DAYS`` days.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from incident_commander.clock import isoformat, utcnow
from incident_commander.config import Settings
from incident_commander.notify.messages import PUBLIC_STATES, public_state
from incident_commander.store.db import Store
from incident_commander.store.models import Incident, Notification

__all__ = [
    "HISTORY_DAYS",
    "OPERATIONAL",
    "PublicIncident",
    "PublicUpdate",
    "build_status",
    "render_page",
    "write_site",
]

HISTORY_DAYS = 90
OPERATIONAL = "Operational"
MAX_UPDATE_CHARS = 2000
# Statuses after which an incident is no longer open on the page (resolved, or never real).
_DONE = frozenset({"resolved", "monitoring", "closed", "false_positive"})
# The state a service shows when several incidents are open: the least known first.
_WORST_FIRST = ("Investigating", "Identified", "Monitoring")
# The copies of one message, one per channel, are queued within moments of each other.
_SAME_UPDATE = timedelta(milliseconds=500)
_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]#|<>~])")
_TAG = re.compile(r"<[^>]{0,500}>")

_env = Environment(
    loader=PackageLoader("incident_commander.reports", "templates/status"),
    undefined=StrictUndefined,
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class PublicUpdate:
    """The words of an update written for the public, and when it was written."""

    at: str
    text: str


@dataclass(frozen=True)
class PublicIncident:
    """What the page says of one incident."""

    id: str
    service: str
    state: str
    open: bool
    started_at: str
    resolved_at: str | None
    latest_update: PublicUpdate | None


def _plain(body: str, fmt: str) -> str:
    """A message body as plain words: the channel's escaping undone (the page escapes it)."""
    if fmt == "markdown":
        body = _MARKDOWN_ESCAPE.sub(r"\1", body)
    elif fmt == "html":
        body = html.unescape(_TAG.sub("", body))
    body = body.strip()
    if len(body) > MAX_UPDATE_CHARS:
        body = body[: MAX_UPDATE_CHARS - 1].rstrip() + "…"
    return body


def _copy_of(row: Notification, group: list[Notification]) -> bool:
    """Whether ``row`` is another channel's copy of the message of ``group`` (newest first)."""
    return (
        row.kind == group[0].kind
        and row.channel not in {r.channel for r in group}
        and group[0].at - row.at <= _SAME_UPDATE
    )


def _latest_updates(
    session: Session, settings: Settings, incident_ids: list[str]
) -> dict[str, PublicUpdate]:
    """Per incident, its latest public update, read from the copy a plain-text channel got
    when there is one (each channel receives the message written in its own format)."""
    if not incident_ids:
        return {}
    formats = {channel.name: channel.format for channel in settings.notifications}
    rows = session.scalars(
        select(Notification)
        .where(
            Notification.incident_id.in_(incident_ids),
            Notification.public.is_(True),
            or_(Notification.kind.is_(None), Notification.kind != "event"),
        )
        .order_by(Notification.incident_id, Notification.at.desc(), Notification.id.desc())
    ).all()
    found: dict[str, PublicUpdate] = {}
    copies: dict[str, list[Notification]] = {}
    closed: set[str] = set()
    for row in rows:
        if row.incident_id in closed:
            continue
        group = copies.setdefault(row.incident_id, [])
        if not group or _copy_of(row, group):
            group.append(row)
        else:
            closed.add(row.incident_id)
    for incident_id, group in copies.items():
        chosen = next((r for r in group if formats.get(r.channel, "text") == "text"), group[0])
        text = _plain(chosen.body, formats.get(chosen.channel, "text"))
        found[incident_id] = PublicUpdate(isoformat(chosen.at) or "", text)
    return found


def _service_state(incidents: list[PublicIncident]) -> str:
    open_states = {i.state for i in incidents if i.open}
    return next((state for state in _WORST_FIRST if state in open_states), OPERATIONAL)


def build_status(
    store: Store, settings: Settings, *, now: datetime | None = None
) -> dict[str, Any]:
    """The page's content (also ``status.json``): services, open incidents, recent history."""
    now = now or utcnow()
    since = now - timedelta(days=HISTORY_DAYS)
    with store.session() as session:
        rows = session.scalars(
            select(Incident)
            .where(
                Incident.status != "false_positive",
                or_(Incident.detected_at >= since, Incident.status.not_in(_DONE)),
            )
            .order_by(Incident.detected_at.desc(), Incident.id.desc())
        ).all()
        updates = _latest_updates(session, settings, [row.id for row in rows])
        shown = [
            PublicIncident(
                id=row.id,
                service=row.service,
                state=public_state(row.status),
                open=row.status not in _DONE,
                started_at=isoformat(row.detected_at) or "",
                resolved_at=isoformat(row.resolved_at),
                latest_update=updates.get(row.id),
            )
            for row in rows
            if row.severity_confirmed or row.id in updates
        ]
    names = sorted({*settings.services, *(i.service for i in shown)})
    services = [
        {
            "name": name,
            "state": _service_state([i for i in shown if i.service == name]),
            "incidents_in_history": sum(1 for i in shown if i.service == name),
        }
        for name in names
    ]
    open_incidents = [asdict(i) for i in shown if i.open]
    return {
        "generated_at": isoformat(now),
        "summary": (
            f"{len(open_incidents)} open incident{'s' if len(open_incidents) != 1 else ''}"
            if open_incidents
            else "All services operational"
        ),
        "states": [OPERATIONAL, *PUBLIC_STATES],
        "services": services,
        "open_incidents": open_incidents,
        "history_days": HISTORY_DAYS,
        "history": [asdict(i) for i in shown if not i.open],
    }


def _shown_time(value: str | None) -> str:
    """``2026-01-01 10:00 UTC`` from an ISO time."""
    if not value:
        return ""
    return f"{value[:10]} {value[11:16]} UTC"


_env.filters["when"] = _shown_time
_env.filters["css"] = lambda state: str(state).lower()


def render_page(status: dict[str, Any]) -> str:
    """The page as one HTML document: inline styles, no script, nothing fetched elsewhere."""
    return _env.get_template("index.html.j2").render(status=status)


def write_site(out: Path, status: dict[str, Any]) -> list[Path]:
    """Write ``index.html`` and ``status.json`` into ``out`` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    page = out / "index.html"
    data = out / "status.json"
    page.write_text(render_page(status), encoding="utf-8")
    data.write_text(json.dumps(status, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [page, data]
