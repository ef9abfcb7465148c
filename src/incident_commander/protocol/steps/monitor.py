"""Phase 4, after resolution: extended monitoring, carried out checkpoint by checkpoint.

Resolving schedules the checkpoints (``schedule``); a watcher (``ic serve`` or ``ic watch``)
runs each one when due (``run_due``): the service's recovery checks, recorded on the timeline
and in ``extended-monitoring.json``. A failed checkpoint reopens the incident; when the last one
passes the incident may be closed.

Each checkpoint is claimed in a transaction before its checks run (status ``running``, by whom,
until when) and recorded in another, so two watchers, or a watcher started again after a crash,
never run a checkpoint twice; one whose claim lapsed without a result is run again, since no
result of it counts. Checkpoints that fell due while nothing was watching all run when a
watcher starts: none is skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from incident_commander.checks.base import CheckConfig, CheckContext
from incident_commander.checks.window import run_check
from incident_commander.clock import isoformat, parse_time, utcnow
from incident_commander.protocol.checkpoints import checkpoints, store_checkpoints
from incident_commander.protocol.journal import Journal
from incident_commander.protocol.lease import owner_id
from incident_commander.protocol.states import Status
from incident_commander.store.models import Incident

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["run_due", "schedule"]

CLAIM_SECONDS = 300  # a checkpoint whose watcher vanished is run again after this


def _phase(minutes: float, scale: float) -> str:
    real = minutes / scale
    if real <= 30:
        return "continuous (first 30 minutes)"
    if real <= 60:
        return "every 10 minutes (first hour)"
    return f"at {real / 60:g} h"


def schedule(kernel: Kernel, journal: Journal, inc: Incident, resolved_at: datetime) -> None:
    """Write the checkpoints of a just-resolved incident (its severity picks the schedule)."""
    settings = kernel.settings.monitoring
    offsets = settings.schedule_for(inc.severity)
    points = [
        {
            "n": n,
            "due": isoformat(resolved_at + timedelta(minutes=minutes)),
            "phase": _phase(minutes, settings.time_scale),
            "status": "due",
        }
        for n, minutes in enumerate(offsets, start=1)
    ]
    store_checkpoints(inc, points)
    last = offsets[-1] / settings.time_scale
    journal.event(
        inc,
        "monitoring.scheduled",
        f"extended monitoring: {len(points)} checkpoint(s) over {last / 60:g} h"
        + (f" (compressed ×{settings.time_scale:g})" if settings.time_scale != 1 else ""),
    )


def _next_due(points: list[dict[str, Any]], now: datetime) -> dict[str, Any] | None:
    for point in points:
        if point["status"] == "due" and parse_time(point["due"]) <= now:
            return point
        if point["status"] == "running" and parse_time(point["until"]) <= now:
            return point  # its watcher stopped before recording: no result of it counts
    return None


def _claim(kernel: Kernel, incident_id: str, now: datetime) -> tuple[int, list[CheckConfig]] | None:
    with kernel.transaction(sync=False) as journal:
        inc = kernel.load(journal.session, incident_id)
        if inc.status != Status.MONITORING:
            return None
        points = checkpoints(inc)
        point = _next_due(points, now)
        if point is None:
            return None
        point.update(
            status="running",
            by=owner_id(),
            until=isoformat(now + timedelta(seconds=CLAIM_SECONDS)),
        )
        store_checkpoints(inc, points)
        service = kernel.settings.services.get(inc.service)
        checks = [*service.health_checks, *service.recovery_checks] if service else []
        return int(point["n"]), checks


def _verdict(results: list[dict[str, Any]]) -> tuple[bool, str]:
    critical = [r for r in results if r["critical"]]
    failed = [r for r in critical if not r["passed"]]
    if not critical:
        return False, "no critical check is configured for the service"
    if failed:
        shown = "; ".join(f"{r['name']}: {r['observed']}" for r in failed)
        return False, f"{len(failed)}/{len(critical)} critical check(s) failed — {shown}"
    return True, f"{len(critical)}/{len(critical)} critical check(s) passed"


def _record(
    kernel: Kernel, incident_id: str, n: int, results: list[dict[str, Any]]
) -> dict[str, Any] | None:
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        points = checkpoints(inc)
        point = next((p for p in points if p["n"] == n), None)
        if point is None or point["status"] != "running" or point.get("by") != owner_id():
            return None  # cancelled (reopened, closed) or taken over meanwhile
        passed, summary = _verdict(results)
        point.update(
            status="passed" if passed else "failed",
            ran_at=isoformat(utcnow()),
            summary=summary,
            checks=results,
        )
        point.pop("until", None)
        store_checkpoints(inc, points)
        total = len(points)
        journal.event(
            inc,
            "monitoring.checkpoint",
            f"[AUTOMATION] extended monitoring checkpoint {n}/{total} ({point['phase']}) "
            f"executed: {point['status']}; {summary}",
        )
        if not passed:
            kernel.reopen(journal, inc, f"extended monitoring checkpoint {n}/{total} failed")
        elif all(p["status"] == "passed" for p in points):
            journal.event(
                inc,
                "monitoring.complete",
                f"extended monitoring complete: all {total} checkpoints passed; "
                "the incident may be closed",
            )
        return {"incident_id": incident_id, **point}


def run_due(kernel: Kernel, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Run every checkpoint due now, oldest incident first; returns what each found."""
    with kernel.store.session() as session:
        watched = list(
            session.scalars(
                select(Incident.id)
                .where(Incident.status == Status.MONITORING.value)
                .order_by(Incident.resolved_at)
            )
        )
    ran: list[dict[str, Any]] = []
    for incident_id in watched:
        while True:
            claimed = _claim(kernel, incident_id, now or utcnow())
            if claimed is None:
                break
            n, checks = claimed
            ctx = CheckContext(store=kernel.store, incident_id=incident_id)
            results = [run_check(check, ctx).model_dump(mode="json") for check in checks]
            recorded = _record(kernel, incident_id, n, results)
            if recorded is None:
                break
            ran.append(recorded)
            if recorded["status"] != "passed":
                break
    return ran
