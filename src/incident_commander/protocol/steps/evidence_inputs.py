"""Root-cause inputs: archiving what people add and what diagnostics gather.

Gathering (reading a file, running a diagnostic, fetching a page, the deploy diff) happens
before the step, outside any transaction. The step writes each input into
``root-cause-inputs/`` and records it with one timeline event whose data is its manifest entry
(sha256 included), so the hash chain seals it; then the manifest is rewritten.

Diagnostics also run in the background when an incident opens (``Background``): they never
hold up the step that mitigates, which goes on while they run.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from incident_commander.clock import isoformat, utcnow
from incident_commander.evidence.diagnose import (
    DeployRange,
    deploy_ref,
    diagnostic_jobs,
    gather,
    git_tree,
)
from incident_commander.evidence.folder import RCA_DIR
from incident_commander.evidence.inputs import Gathered
from incident_commander.evidence.manifest import INPUT_EVENT
from incident_commander.evidence.record import load_record
from incident_commander.protocol.outbox import RECORD_WAITS_AT_MOST_S
from incident_commander.store.models import ArtifactRecord, Deploy, Event, Incident

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["DIAGNOSED_BY", "HOLD_AT_MOST_S", "Background", "add_inputs", "diagnose", "diagnosed"]

DIAGNOSED_BY = "ic (diagnostics)"
HOLD_AT_MOST_S = 120.0
_ENGINE_KINDS = ("diagnostic", "deploy-diff")
log = logging.getLogger("incident_commander")


def _unique(name: str, taken: set[str], number: int) -> str:
    path = f"{RCA_DIR}/{number:02d}-{name}"
    while path in taken:
        number += 1
        path = f"{RCA_DIR}/{number:02d}-{name}"
    return path


def add_inputs(
    kernel: Kernel, incident_id: str, inputs: list[Gathered], *, added_by: str
) -> list[dict[str, Any]]:
    """Archive ``inputs`` for the incident and seal each on its timeline; their entries."""
    entries: list[dict[str, Any]] = []
    with kernel.transaction(sync=False) as journal:
        session = journal.session
        inc = kernel.load(session, incident_id)
        taken = set(
            session.scalars(select(ArtifactRecord.path).where(ArtifactRecord.incident_id == inc.id))
        )
        number = 1 + len(
            session.scalars(
                select(Event.id).where(Event.incident_id == inc.id, Event.kind == INPUT_EVENT)
            ).all()
        )
        for item in inputs:
            path = _unique(item.name, taken, number)
            taken.add(path)
            number += 1
            kernel.evidence.write(session, inc.id, {path: item.data})
            entry = {
                "path": path,
                **item.entry(),
                "added_by": added_by,
                "added_at": isoformat(utcnow()),
            }
            outcome = f", exit code {item.exit_code}" if item.exit_code is not None else ""
            if item.timed_out:
                outcome = ", cut at its deadline"
            journal.event(
                inc,
                INPUT_EVENT,
                f"root-cause input {path} ({item.level}{outcome}) added by {added_by}: "
                f"{item.source}; sha256 {entry['sha256']}",
                entry,
            )
            entries.append(entry)
        resolved = bool(inc.resolution)
    # The post-mortem package lists every input once it exists; before, the manifest alone.
    kernel.sync(incident_id, postmortem=resolved)
    if not resolved:
        with kernel.store.session() as session:
            record = load_record(session, kernel.load(session, incident_id))
            kernel.evidence.write_manifest(session, record)
    return entries


def diagnosed(session: Session, incident_id: str) -> bool:
    """Whether diagnostics have already archived anything for the incident."""
    rows = session.scalars(
        select(Event.data).where(Event.incident_id == incident_id, Event.kind == INPUT_EVENT)
    )
    return any((data or {}).get("kind") in _ENGINE_KINDS for data in rows)


def _deploy_range(session: Session, inc: Incident) -> DeployRange | None:
    """The suspect deploy and the one before it, when both name something git can read."""
    suspect = session.get(Deploy, inc.suspect_deploy_id) if inc.suspect_deploy_id else None
    if suspect is None:
        return None
    before = session.scalars(
        select(Deploy)
        .where(
            Deploy.service == suspect.service,
            Deploy.id != suspect.id,
            Deploy.deployed_at <= suspect.deployed_at,
        )
        .order_by(Deploy.deployed_at.desc(), Deploy.id.desc())
        .limit(1)
    ).first()
    if before is None:
        return None
    old, new = (
        deploy_ref(before.commit, before.version),
        deploy_ref(suspect.commit, suspect.version),
    )
    return DeployRange(old, new) if old and new and old != new else None


def diagnose(
    kernel: Kernel,
    incident_id: str,
    *,
    by: str = DIAGNOSED_BY,
    once: bool = False,
    gate: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Run the service's diagnostics (and the deploy diff) now; archive and seal each output.

    With ``once``, nothing runs when diagnostics already archived something for the incident.
    With ``gate``, nothing starts before it is set (at most ``HOLD_AT_MOST_S`` later).
    """
    if gate is not None:
        gate.wait(HOLD_AT_MOST_S)
    with kernel.store.session() as session:
        inc = kernel.load(session, incident_id, lock=False)
        if once and diagnosed(session, inc.id):
            return []
        service = kernel.settings.services.get(inc.service)
        span = (
            _deploy_range(session, inc) if service and git_tree(kernel.settings, service) else None
        )
        jobs = diagnostic_jobs(kernel.settings, inc.service, inc.id, span)
    found = gather(jobs)
    if not found:
        return []
    # Archived once the steps pause (the validation window), not between two of them.
    kernel.steps_idle.wait(RECORD_WAITS_AT_MOST_S)
    return add_inputs(kernel, incident_id, found, added_by=by)


class Background:
    """Diagnostics in background threads, at most once per incident in this process."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._lock = threading.Lock()
        self._started: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._gates: dict[str, threading.Event] = {}

    def wanted(self) -> bool:
        """Whether any service has something to gather at all."""
        settings = self.kernel.settings
        return settings.evidence.diagnose_on_open and any(
            s.diagnostics or git_tree(settings, s) for s in settings.services.values()
        )

    def start(self, incident_id: str, *, hold: bool = False) -> bool:
        """Start the incident's diagnostics unless started here before; ``True`` if started.

        With ``hold``, they start only once ``release`` is called (the mitigation has started,
        or the drive stopped: waiting for a person, halted, done) or ``HOLD_AT_MOST_S`` passed,
        so they never compete with the steps that lead to the mitigation.
        """
        if not self.wanted():
            return False
        with self._lock:
            if incident_id in self._started:
                return False
            self._started.add(incident_id)
            gate = threading.Event()
            if not hold:
                gate.set()
            self._gates[incident_id] = gate
            thread = threading.Thread(
                target=self._run, args=(incident_id, gate), name=f"ic-diagnose-{incident_id}"
            )
            thread.daemon = True
            self._threads.append(thread)
        thread.start()
        return True

    def release(self, incident_id: str) -> None:
        """Let the incident's held diagnostics start."""
        with self._lock:
            gate = self._gates.get(incident_id)
        if gate is not None:
            gate.set()

    def _run(self, incident_id: str, gate: threading.Event) -> None:
        try:
            diagnose(self.kernel, incident_id, once=True, gate=gate)
        except Exception:  # the incident goes on; its diagnostics are missing, and logged
            log.exception("diagnostics of %s failed", incident_id)

    def wait(self, timeout: float) -> bool:
        """Wait for every started diagnostic run; ``False`` if one is still running."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            return not self._threads
