"""Phase 1: deploy records, and declaring an incident from a signal."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from incident_commander.clock import isoformat, utcnow
from incident_commander.errors import InvalidInput, TransitionRejected
from incident_commander.protocol.journal import Journal, phase_start
from incident_commander.protocol.limits import bounded
from incident_commander.protocol.states import Status
from incident_commander.store.models import Deploy, Incident, Signal

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["SOURCES", "Declaration", "declare", "open_incident", "record_deploy"]

SOURCES = (
    "monitoring-alert",
    "user-report",
    "failed-run",
    "audit",
    "routine-check",
    "health-probe",
)


def record_deploy(
    kernel: Kernel,
    *,
    service: str,
    version: str,
    commit: str | None = None,
    deployed_by: str | None = None,
    deployed_at: datetime | None = None,
) -> Deploy:
    """Remember a deployment; it feeds the suspect-deploy rule."""
    if not service.strip() or not version.strip():
        raise InvalidInput("a deploy needs a service and a version")
    service = bounded("the service name", service, 128) or service
    version = bounded("the version", version, 128) or version
    commit = bounded("the commit", commit, 64)
    deployed_by = bounded("deployed by", deployed_by, 200)
    with kernel.store.session() as session:
        deploy = Deploy(
            service=service,
            version=version,
            commit=commit,
            deployed_by=deployed_by,
            deployed_at=deployed_at or utcnow(),
        )
        session.add(deploy)
    return deploy


@dataclass(frozen=True)
class Declaration:
    """What opens an incident: the signal's title, service and origin."""

    title: str
    service: str
    source: str
    detected_by: str
    symptoms: list[str] = field(default_factory=list)
    first_signal_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def checked(self) -> Declaration:
        """The declaration with its text trimmed, or a clear error."""
        if self.source not in SOURCES:
            raise InvalidInput(f"unknown source {self.source!r} (one of: {', '.join(SOURCES)})")
        if not self.title.strip():
            raise InvalidInput("an incident needs a title")
        if not self.service.strip():
            raise InvalidInput("an incident needs a service")
        return replace(
            self,
            title=self.title.strip(),
            service=bounded("the service name", self.service, 128) or self.service,
            detected_by=bounded("detected by", self.detected_by, 200) or self.detected_by,
            symptoms=[s for s in self.symptoms if s.strip()],
        )


def declare(kernel: Kernel, declaration: Declaration) -> str:
    """Open an incident from a signal; returns its id."""
    declaration = declaration.checked()
    for _attempt in range(5):
        try:
            with kernel.transaction() as journal:
                return open_incident(kernel, journal, declaration).id
        except IntegrityError:
            continue  # another process took the same id: count again
    raise TransitionRejected("could not allocate an incident id; try again")


def open_incident(kernel: Kernel, journal: Journal, declaration: Declaration) -> Incident:
    """Add the incident, its first signal and its first timeline lines to the transaction.

    ``declaration`` must be ``checked()``. The id counts the day's incidents, so two
    processes may pick the same one: the commit then fails with ``IntegrityError``.
    """
    session = journal.session
    now = utcnow()
    first = declaration.first_signal_at or now
    prefix = f"INC-{now:%Y%m%d}-"
    taken = session.scalar(
        select(func.count()).select_from(Incident).where(Incident.id.like(prefix + "%"))
    )
    suspect = kernel.suspect_deploy(session, declaration.service, first)
    inc = Incident(
        id=f"{prefix}{(taken or 0) + 1:04d}",
        title=declaration.title,
        service=declaration.service,
        source=declaration.source,
        detected_by=declaration.detected_by,
        symptoms=declaration.symptoms,
        status=Status.DETECTED.value,
        severity_confirmed=False,
        suspect_deploy_id=suspect.id if suspect else None,
        first_signal_at=first,
        detected_at=now,
        updated_at=now,
    )
    session.add(inc)
    session.flush()
    journal.touched.add(inc.id)
    journal.event(inc, "phase", phase_start(1))
    session.add(
        Signal(
            incident_id=inc.id,
            at=first,
            source=declaration.source,
            detected_by=declaration.detected_by,
            summary=declaration.title,
            details=declaration.details,
        )
    )
    journal.event(
        inc,
        "incident.declared",
        f"{declaration.title} — service {declaration.service}, source {declaration.source}, "
        f"detected by {declaration.detected_by}; first signal {isoformat(first)}",
    )
    if suspect:
        journal.event(
            inc,
            "deploy.suspect",
            f"suspect deploy: {suspect.service} {suspect.version} at "
            f"{isoformat(suspect.deployed_at)}",
            {"deploy_id": suspect.id},
        )
    return inc
