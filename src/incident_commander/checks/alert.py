"""Alert-cleared check: recovery includes the alerts that opened the incident being resolved."""

from __future__ import annotations

import time

from pydantic import Field
from sqlalchemy import or_, select

from incident_commander.checks.base import Check, CheckConfig, CheckContext, CheckResult
from incident_commander.clock import utcnow
from incident_commander.store.models import Alert

__all__ = ["AlertClearedCheck"]


class AlertClearedCheck(Check):
    """Pass when no alert of the incident (or of the named alert) is still firing."""

    slug = "alert-cleared"
    title = "The alert cleared"

    class Config(CheckConfig):
        kind: str = "alert-cleared"
        alertname: str | None = Field(default=None, max_length=200)

    def run(self, config: CheckConfig, ctx: CheckContext) -> CheckResult:
        assert isinstance(config, AlertClearedCheck.Config)
        at = utcnow()
        start = time.monotonic()
        expected = "no alert of the incident firing"
        if config.alertname:
            expected = f"alert {config.alertname} not firing"
        if ctx.store is None or ctx.incident_id is None:
            return CheckResult(
                name=config.name,
                kind=self.slug,
                critical=config.critical,
                passed=False,
                observed="no incident to look at (this check runs during recovery validation)",
                expected=expected,
                at=at,
                duration_ms=0.0,
            )
        query = select(Alert.alertname).where(
            Alert.status == "firing",
            or_(Alert.incident_id == ctx.incident_id, Alert.group_key == (ctx.service or "")),
        )
        if config.alertname:
            query = query.where(Alert.alertname == config.alertname)
        with ctx.store.session() as session:
            firing = sorted(set(session.scalars(query)))
        observed = f"firing: {', '.join(firing)}" if firing else "no matching alert firing"
        return CheckResult(
            name=config.name,
            kind=self.slug,
            critical=config.critical,
            passed=not firing,
            observed=observed[:300],
            expected=expected,
            at=at,
            duration_ms=round((time.monotonic() - start) * 1000, 2),
        )
