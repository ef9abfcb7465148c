"""Background work for a long-running server: probes, the incident driver, evidence refresh."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING

from incident_commander.alerts.tuning import write_alert_tuning
from incident_commander.checks.window import run_check
from incident_commander.config import ServiceConfig
from incident_commander.watch.pace import LatestDeploy
from incident_commander.watch.probe import probe_alert, probe_recovered, watch_service

if TYPE_CHECKING:
    from incident_commander.alerts.intake import AlertIntake
    from incident_commander.protocol.engine import Engine

__all__ = ["Driver", "EvidenceRefresher", "Housekeeper", "ProbeLoop"]

log = logging.getLogger("incident_commander")


class Driver:
    """One thread that drives opened incidents (``Engine.run``), one at a time, in order."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="ic-driver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, incident_id: str) -> None:
        """Queue an opened incident, and its diagnostics: they run beside its drive, from the
        moment the mitigation starts or the drive stops for a person."""
        try:
            self.engine.diagnose_in_background(incident_id, hold=True)
        except Exception:  # gathering evidence must never keep an incident from its driver
            log.exception("starting the diagnostics of %s failed", incident_id)
        self._queue.put(incident_id)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _work(self) -> None:
        while (incident_id := self._queue.get()) is not None:
            try:
                outcome = self.engine.run(incident_id)
                log.info(
                    "%s: %s%s",
                    incident_id,
                    outcome.status,
                    f"; needs {outcome.needs}" if outcome.needs else "",
                )
            except Exception:  # one incident's failure must not stop the driver
                log.exception("driving %s failed", incident_id)


class EvidenceRefresher:
    """One thread that re-renders evidence after the alert intake's commits, coalescing.

    The intake answers a sender once the alerts are committed; the incidents they joined are
    re-rendered here. Marks that arrive while a round runs wait for the next, so an alert storm
    re-renders each touched incident once per round, and rounds start at most every ``pause``
    seconds. A refresh failure is logged and the incident stays marked for the next round.
    """

    def __init__(self, engine: Engine, *, pause: float = 0.25) -> None:
        self.engine = engine
        self.pause = pause
        self._incidents: set[str] = set()
        self._tuning = False
        self._busy = False
        self._stopping = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="ic-evidence", daemon=True)

    def __call__(self, incidents: set[str], tuning: bool) -> None:
        """Mark incidents (and the alert-tuning file) as behind the store."""
        with self._changed:
            self._incidents |= incidents
            self._tuning = self._tuning or tuning
            self._changed.notify_all()

    def start(self) -> None:
        self._thread.start()

    def flush(self, timeout: float = 30) -> bool:
        """Wait until everything marked so far is written; ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not (self._incidents or self._tuning or self._busy), timeout
            )

    def stop(self) -> None:
        """Write what is still marked, then end the thread."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join(timeout=60)

    def _work(self) -> None:
        began = 0.0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._incidents or self._tuning or self._stopping)
                if not (self._incidents or self._tuning):
                    return
                wait = began + self.pause - time.monotonic()
                if wait > 0:  # let more marks gather into this round, unless stopping
                    self._changed.wait_for(lambda: self._stopping, wait)
                incidents, tuning = self._incidents, self._tuning
                self._incidents, self._tuning, self._busy = set(), False, True
            began = time.monotonic()
            failed = self._refresh(incidents, tuning)
            with self._changed:
                self._busy = False
                if failed and not self._stopping:
                    self._incidents |= failed
                self._changed.notify_all()

    def _refresh(self, incidents: set[str], tuning: bool) -> set[str]:
        failed: set[str] = set()
        for incident_id in sorted(incidents):
            try:
                self.engine.sync(incident_id)
            except Exception:
                log.exception("re-rendering the evidence of %s failed", incident_id)
                failed.add(incident_id)
        if tuning:
            try:
                write_alert_tuning(self.engine.store, self.engine.settings.evidence_dir)
            except Exception:
                log.exception("rewriting the alert-tuning feedback failed")
        return failed


class Housekeeper:
    """One thread that keeps the intake whole: at start-up and every ``interval`` seconds it
    opens incidents for alerts a failure left without one, prunes delivery answers past their
    retention window (a batch at a time, so the intake is never held up for long), and tries
    failed notifications again."""

    def __init__(self, intake: AlertIntake, *, interval: float = 60) -> None:
        self.intake = intake
        self.interval = interval
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._work, name="ic-housekeeping", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(timeout=30)

    def run_once(self) -> None:
        """Repair, then prune; a failure is logged and tried again next round."""
        try:
            repaired = self.intake.repair()
            if repaired:
                log.warning("alerts left without an incident went to %s", ", ".join(repaired))
        except Exception:
            log.exception("taking up alerts left without an incident failed")
        try:
            pruned = self.intake.prune_deliveries()
            if pruned:
                log.info("pruned %d delivery answers past their retention", pruned)
        except Exception:
            log.exception("pruning delivery answers failed")
        try:
            self.intake.kernel.outbox.retry_failed()
        except Exception:
            log.exception("retrying failed notifications failed")

    def _work(self) -> None:
        self.run_once()
        while not self.stopping.wait(self.interval):
            self.run_once()


class ProbeLoop:
    """Probe every configured service; failures and recoveries go through the alert intake.

    A service with ``probe.after_deploy`` learns of its deploys from the store, reading the
    latest one at most once per normal probe interval.
    """

    def __init__(self, services: dict[str, ServiceConfig], intake: AlertIntake) -> None:
        self.services = {n: s for n, s in services.items() if s.health_checks}
        self.intake = intake
        self.stopping = threading.Event()
        store = intake.kernel.store
        self.deploys = {
            name: LatestDeploy.of(store, name, service.probe.interval_seconds)
            for name, service in self.services.items()
            if service.probe.after_deploy is not None
        }
        self._threads = [
            threading.Thread(target=self._watch, args=(n, s), name=f"ic-probe-{n}", daemon=True)
            for n, s in self.services.items()
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _watch(self, name: str, service: ServiceConfig) -> None:
        deploys = self.deploys.get(name)
        while not self.stopping.is_set():
            signal = watch_service(name, service, stop=self.stopping, deploys=deploys)
            if signal is None:
                return
            try:
                self.intake.ingest([probe_alert(signal)], source="health-probe")
            except Exception:
                log.exception("recording the probe failure of %s failed", name)
            while not self.stopping.wait(service.probe.interval_seconds):
                results = [run_check(check) for check in service.health_checks]
                if all(r.passed for r in results if r.critical):
                    break
            if self.stopping.is_set():
                return
            try:
                self.intake.ingest([probe_recovered(name)], source="health-probe")
            except Exception:
                log.exception("recording the probe recovery of %s failed", name)
