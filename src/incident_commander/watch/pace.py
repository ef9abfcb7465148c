"""How often a service is probed and how many failures in a row alert, deploys considered.

For ``probe.after_deploy.window_seconds`` after the latest recorded deploy of a service, its
probe runs at the after-deploy pace (faster, fewer failures in a row, each failed round checked
again at once); otherwise at the normal pace. The latest deploy is read from the store at most
once per normal interval, so a deploy is taken into account within one normal interval of
being recorded, and a quiet service costs one small query per interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from incident_commander.config import ProbeSettings
from incident_commander.store.db import Store
from incident_commander.store.models import Deploy

__all__ = ["DeployMark", "LatestDeploy", "ProbePace", "latest_deploy", "probe_pace"]

log = logging.getLogger("incident_commander")


@dataclass(frozen=True)
class DeployMark:
    """What the probe needs to know of a deploy: which version, and when."""

    version: str
    deployed_at: datetime


@dataclass(frozen=True)
class ProbePace:
    """The pace of one probing round: its interval, the streak that alerts, the rechecks."""

    interval_seconds: float
    failure_threshold: int
    rechecks: int = 0
    deploy: DeployMark | None = None  # set when the pace is the after-deploy one

    @property
    def deploy_aware(self) -> bool:
        return self.deploy is not None

    def describe(self) -> str:
        """``every 10 s, 3 in a row``, or the after-deploy pace with the deploy it follows."""
        pace = f"every {self.interval_seconds:g} s, {self.failure_threshold} in a row"
        if self.deploy is None:
            return f"probing: {pace}"
        at = self.deploy.deployed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"deploy-aware probing: {pace}, since deploy {self.deploy.version} at {at}"


def probe_pace(settings: ProbeSettings, deploy: DeployMark | None, now: datetime) -> ProbePace:
    """The pace at ``now``: the after-deploy one while ``deploy`` is within its window.

    A deploy dated after ``now`` (a deployer's clock ahead of ours) does not count until its
    time comes; the window is measured from ``deployed_at``, as recorded.
    """
    after = settings.after_deploy
    if after is not None and deploy is not None:
        age = now - deploy.deployed_at
        if timedelta(0) <= age < timedelta(seconds=after.window_seconds):
            return ProbePace(
                interval_seconds=after.interval_seconds,
                failure_threshold=after.failure_threshold,
                rechecks=after.rechecks,
                deploy=deploy,
            )
    return ProbePace(settings.interval_seconds, settings.failure_threshold)


def latest_deploy(store: Store, service: str) -> DeployMark | None:
    """The most recent deploy of ``service`` on record, if any."""
    with store.session() as session:
        row = session.execute(
            select(Deploy.version, Deploy.deployed_at)
            .where(Deploy.service == service)
            .order_by(Deploy.deployed_at.desc(), Deploy.id.desc())
            .limit(1)
        ).first()
    return DeployMark(version=row.version, deployed_at=row.deployed_at) if row else None


class LatestDeploy:
    """The latest deploy of a service, read with ``read`` at most once every ``every`` seconds.

    A failed read is logged and the last deploy known is kept: probing goes on at the pace it
    knows rather than stopping.
    """

    def __init__(
        self,
        read: Callable[[], DeployMark | None],
        every: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        self.every = every
        self.clock = clock
        self.reads = 0
        self._known: DeployMark | None = None
        self._read_at: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, store: Store, service: str, every: float) -> LatestDeploy:
        """Read ``service``'s latest deploy from ``store``."""
        return cls(lambda: latest_deploy(store, service), every)

    def __call__(self) -> DeployMark | None:
        with self._lock:
            now = self.clock()
            # Normal rounds come one interval apart give or take the timer's jitter: a round
            # a hair early still reads, so a new deploy is never left unseen for two intervals.
            if self._read_at is None or now - self._read_at >= self.every * 0.95:
                self._read_at = now
                self.reads += 1
                try:
                    self._known = self.read()
                except Exception:  # a store hiccup must not stop the probe
                    log.warning("reading the latest deploy failed", exc_info=True)
            return self._known
