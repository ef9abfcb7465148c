"""The FastAPI application: one Commander, its alert intake, background driver and probes."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from incident_commander import __version__
from incident_commander.alerts.intake import AlertIntake
from incident_commander.app import Commander
from incident_commander.watch.extended import Watcher
from incident_commander.watch.loop import Driver, EvidenceRefresher, Housekeeper, ProbeLoop
from incident_commander.web import api, status, webhooks
from incident_commander.web.errors import install_error_handlers
from incident_commander.web.metrics import Metrics
from incident_commander.web.openapi import WEBHOOK_RESPONSES, install_openapi
from incident_commander.web.security import BodyLimit

__all__ = ["BODY_LIMIT", "SWITCH_INTERVAL", "create_app"]

BODY_LIMIT = 1024 * 1024
SWITCH_INTERVAL = 0.0005
"""How long (s) a busy thread may keep the interpreter while another waits for it.

The alert intake's writer waits on the database several times a write, letting go of the
interpreter each time; a thread parsing requests or driving incidents then keeps it for up to
the switch interval (Python's default: 5 ms) before the writer may go on. Under an alert storm
that wait, paid once per round trip, is most of a write's time; a shorter interval cuts it.
"""


def create_app(
    commander: Commander,
    *,
    token: str | None = None,
    probes: bool = True,
    body_limit: int = BODY_LIMIT,
) -> FastAPI:
    """Build the HTTP service around ``commander``."""
    driver = Driver(commander.engine)
    refresher = EvidenceRefresher(commander.engine)
    intake = AlertIntake(commander.engine, on_opened=driver.submit, refresh=refresher)
    loop = ProbeLoop(commander.settings.services, intake) if probes else None
    housekeeper = Housekeeper(intake)
    watcher = Watcher(commander.engine)
    # Deliveries of notifications leave their incidents' evidence to the refresher's rounds.
    commander.engine.outbox.on_stale = lambda incidents: refresher(incidents, False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What start-up loaded lives as long as the server: keep it out of the collector's
        # full passes, which otherwise pause every request thread for tens of milliseconds.
        gc.collect()
        gc.freeze()
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(switch_interval, SWITCH_INTERVAL))
        refresher.start()
        driver.start()
        housekeeper.start()
        watcher.start()
        if loop is not None:
            loop.start()
        try:
            yield
        finally:
            if loop is not None:
                loop.stop()
            watcher.stop()
            housekeeper.stop()
            driver.stop()
            commander.engine.outbox.flush(10)
            refresher.stop()
            sys.setswitchinterval(switch_interval)

    # /docs and /redoc load their scripts and styles from this server, never from a CDN.
    app = FastAPIOffline(
        title="Incident Commander",
        version=__version__,
        description="Alerts in, incidents run by the protocol, evidence out.",
        lifespan=lifespan,
    )
    secret = commander.settings.webhook_secret
    app.state.commander = commander
    app.state.intake = intake
    app.state.driver = driver
    app.state.refresher = refresher
    app.state.token = token
    app.state.webhook_secret = secret.get_secret_value() if secret else None
    app.state.signature_tolerance = commander.settings.webhook_signature_tolerance_seconds
    app.state.metrics = Metrics(commander.store)
    install_error_handlers(app)
    app.include_router(webhooks.router, responses=WEBHOOK_RESPONSES)
    app.include_router(api.router)
    app.include_router(status.router)
    install_openapi(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["ops"],
        responses={503: {"description": "The store does not answer."}},
    )
    def readyz(request: Request) -> Any:
        """The store answers too."""
        try:
            with commander.store.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "error": str(exc)[:200]}, 503)
        return {"status": "ready"}

    @app.get(
        "/metrics",
        tags=["ops"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    def metrics(request: Request) -> Response:
        """Prometheus text format."""
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(BodyLimit, limit=body_limit)
    return app
