"""The REST API under ``/api/v1``: everything the CLI does, through the same engine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from incident_commander.clock import isoformat, utcnow
from incident_commander.insights.metrics import compute_metrics
from incident_commander.insights.period import period_of
from incident_commander.insights.similar import find_similar
from incident_commander.protocol.engine import Engine
from incident_commander.protocol.gates import run_gates
from incident_commander.protocol.severity import Answers
from incident_commander.protocol.steps.review import Review
from incident_commander.views import incident_row, incident_view
from incident_commander.web import actions
from incident_commander.web.guard import MAX_PARAMETER, ApiRoute

__all__ = ["Timestamp", "router"]

# Access, parameters, content type and JSON are checked by ApiRoute before each handler.
router = APIRouter(prefix="/api/v1", tags=["api"], route_class=ApiRoute)

_MOMENT = "an ISO 8601 date and time with a timezone, as a string (2026-11-23T03:00:00Z)"


def _parse_moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected {_MOMENT}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected {_MOMENT}, got {value[:40]!r}") from None


def _in_utc(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"needs a timezone: expected {_MOMENT}")
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None
    if not 1970 <= moment.year <= 9999:
        raise ValueError(f"year {moment.year} in UTC, outside 1970 to 9999")
    return moment


IncidentId = Annotated[str, Path(max_length=MAX_PARAMETER)]

# A moment in time: a timezone-aware ISO 8601 string within 1970..9999 in UTC, never a number.
Timestamp = Annotated[datetime, BeforeValidator(_parse_moment), AfterValidator(_in_utc)]


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.commander.engine
    return engine


@contextmanager
def _timed(request: Request, step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        request.app.state.metrics.steps.labels(step).observe(time.perf_counter() - started)


class Declaration(BaseModel):
    title: str = Field(min_length=1, max_length=10_000)
    service: str = Field(min_length=1, max_length=128)
    source: str = Field(default="user-report", max_length=64)
    detected_by: str = Field(default="api", max_length=200)
    symptoms: list[Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=list, max_length=100
    )


class Assessment(BaseModel):
    answers: Answers
    assessed_by: str = Field(min_length=1, max_length=200)


class ApprovalAnswer(BaseModel):
    answer: Literal["yes", "no"]
    approver: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=10_000)
    kind: Literal["severity", "mitigation", "resolution"] | None = None


class PlanRequest(BaseModel):
    root_cause_known: bool = False
    fix_minutes: float | None = Field(default=None, ge=0)
    option: str | None = Field(default=None, max_length=128)
    chosen_by: str = Field(default="api", max_length=200)
    fix_version: str | None = Field(default=None, max_length=128)


class Dismissal(BaseModel):
    reason: str = Field(min_length=1, max_length=10_000)
    dismissed_by: str = Field(min_length=1, max_length=200)


class Closing(BaseModel):
    closed_by: str = Field(min_length=1, max_length=200)


class ReviewRequest(BaseModel):
    review: Review
    recorded_by: str = Field(min_length=1, max_length=200)


class Update(BaseModel):
    audience: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=10_000)
    public: bool = False
    author: str = Field(default="api", min_length=1, max_length=200)


class DeployEvent(BaseModel):
    service: str = Field(min_length=1, max_length=128)
    version: str = Field(min_length=1, max_length=128)
    commit: str | None = Field(default=None, max_length=64)
    deployed_by: str | None = Field(default=None, max_length=200)
    deployed_at: Timestamp | None = None


@router.get("/incidents")
def list_incidents(
    request: Request,
    status: Annotated[str | None, Query(max_length=32)] = None,
    service: Annotated[str | None, Query(max_length=128)] = None,
    severity: Annotated[str | None, Query(max_length=32)] = None,
) -> list[dict[str, Any]]:
    """Incidents, newest first (the same rows as `ic list --json`)."""
    rows = _engine(request).list_incidents(status=status, service=service, severity=severity)
    return [incident_row(r) for r in rows]


@router.post("/incidents", status_code=201)
def declare(request: Request, body: Declaration) -> dict[str, Any]:
    """Open an incident by hand (phase 1)."""
    engine = _engine(request)
    incident_id = engine.declare(
        title=body.title,
        service=body.service,
        source=body.source,
        detected_by=body.detected_by,
        symptoms=body.symptoms,
    )
    return incident_view(engine, incident_id)


@router.get("/incidents/{incident_id}")
def show(request: Request, incident_id: IncidentId) -> dict[str, Any]:
    """One incident with its alerts and timeline (the same as `ic show --json`)."""
    return incident_view(_engine(request), incident_id)


@router.post("/incidents/{incident_id}/assess")
def assess(request: Request, incident_id: IncidentId, body: Assessment) -> dict[str, Any]:
    """Answer the severity questions."""
    engine = _engine(request)
    with _timed(request, "assess"):
        engine.assess(incident_id, body.answers, assessed_by=body.assessed_by)
    return incident_view(engine, incident_id)


@router.post("/incidents/{incident_id}/approvals")
def approve(request: Request, incident_id: IncidentId, body: ApprovalAnswer) -> dict[str, Any]:
    """Answer the pending approval (severity, mitigation or resolution)."""
    engine = _engine(request)
    engine.answer(
        incident_id,
        yes=body.answer == "yes",
        approver=body.approver,
        rationale=body.reason,
        kind=body.kind,
    )
    return incident_view(engine, incident_id)


@router.post("/incidents/{incident_id}/plan")
def plan(request: Request, incident_id: IncidentId, body: PlanRequest) -> dict[str, Any]:
    """Write the plan, check readiness, ask for approval (or halt)."""
    engine = _engine(request)
    with _timed(request, "plan"):
        engine.plan(
            incident_id,
            root_cause_known=body.root_cause_known,
            fix_minutes=body.fix_minutes,
            option=body.option,
            chosen_by=body.chosen_by,
            fix_version=body.fix_version,
        )
    return incident_view(engine, incident_id)


@router.post("/incidents/{incident_id}/execute")
def execute(request: Request, incident_id: IncidentId) -> dict[str, Any]:
    """Run the approved mitigation (refused without confirmed severity and approval)."""
    engine = _engine(request)
    with _timed(request, "execute"):
        outcome = engine.execute(incident_id)
    return {
        "succeeded": outcome.succeeded,
        "recovered": outcome.recovered,
        "runs": [
            {
                "option": r.option_name,
                "status": r.status,
                "error": r.error,
                "release_before": r.release_before,
                "release_after": r.release_after,
            }
            for r in outcome.runs
        ],
        "incident": incident_view(engine, incident_id),
    }


@router.post("/incidents/{incident_id}/validate")
def validate(request: Request, incident_id: IncidentId) -> dict[str, Any]:
    """Validate recovery over the configured window."""
    engine = _engine(request)
    with _timed(request, "validate"):
        attempt = engine.validate(incident_id)
    return {
        "verdict": attempt.get("verdict"),
        "critical_pass_rate": attempt.get("critical_pass_rate"),
        "incident": incident_view(engine, incident_id),
    }


@router.post("/incidents/{incident_id}/run")
def run(request: Request, incident_id: IncidentId) -> dict[str, Any]:
    """Take every next step whose inputs exist; say what a person must do next."""
    engine = _engine(request)
    with _timed(request, "run"):
        outcome = engine.run(incident_id)
    return {
        "incident_id": outcome.incident_id,
        "status": outcome.status,
        "needs": outcome.needs,
        "ok": outcome.ok,
    }


@router.post("/incidents/{incident_id}/dismiss")
def dismiss(request: Request, incident_id: IncidentId, body: Dismissal) -> dict[str, Any]:
    """Record a false positive."""
    engine = _engine(request)
    engine.dismiss(incident_id, reason=body.reason, dismissed_by=body.dismissed_by, by_person=True)
    return incident_view(engine, incident_id)


@router.post("/incidents/{incident_id}/close")
def close(request: Request, incident_id: IncidentId, body: Closing) -> dict[str, Any]:
    """Close a resolved incident once gate 4 passes."""
    engine = _engine(request)
    engine.close(incident_id, closed_by=body.closed_by)
    return incident_view(engine, incident_id)


@router.post("/incidents/{incident_id}/notify")
def notify(request: Request, incident_id: IncidentId, body: Update) -> dict[str, Any]:
    """Send a manual update to one audience (``public`` for a status update anyone may read).

    Waits up to two seconds for the channels; deliveries still running are reported
    ``pending`` and go on in the background.
    """
    sent = _engine(request).announce(
        incident_id,
        audience=body.audience,
        text=body.message,
        public=body.public,
        by=body.author,
        wait_s=2,
    )
    return {"incident_id": incident_id, "deliveries": [vars(d) for d in sent]}


@router.get("/incidents/{incident_id}/gates")
def gates(
    request: Request,
    incident_id: IncidentId,
    gate: Annotated[str, Query(max_length=16)] = "all",
    sla: Annotated[float | None, Query(gt=0)] = None,
    threshold: Annotated[float | None, Query(gt=0, le=1)] = None,
) -> dict[str, Any]:
    """The quality gates (the same as `ic gate check --json`)."""
    engine = _engine(request)
    results = run_gates(
        gate, engine.record(incident_id), engine, sla_minutes=sla, threshold=threshold
    )
    return {
        "incident_id": incident_id,
        "passed": all(r.passed for r in results),
        "gates": [r.model_dump() for r in results],
    }


@router.post("/incidents/{incident_id}/review")
def review(request: Request, incident_id: IncidentId, body: ReviewRequest) -> dict[str, Any]:
    """Record the post-incident review (root cause, 5 Whys, factors, actions)."""
    engine = _engine(request)
    engine.record_review(incident_id, body.review, recorded_by=body.recorded_by)
    return {"path": str(engine.report(incident_id))}


@router.post("/incidents/{incident_id}/report")
def report(request: Request, incident_id: IncidentId) -> dict[str, Any]:
    """(Re)write INCIDENT-REPORT.md from the record."""
    return {"path": str(_engine(request).report(incident_id))}


@router.get("/incidents/{incident_id}/evidence")
def evidence(request: Request, incident_id: IncidentId) -> dict[str, Any]:
    """Verify the timeline chain and every artifact hash."""
    result = _engine(request).verify(incident_id)
    return {
        "incident_id": incident_id,
        "ok": result.ok,
        "events": result.events,
        "files": result.files,
        "problems": result.problems,
    }


@router.get("/metrics")
def metrics(
    request: Request,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    service: Annotated[str | None, Query(max_length=128)] = None,
) -> dict[str, Any]:
    """Numbers across incidents (the same as `ic metrics --json`)."""
    engine = _engine(request)
    period = period_of(since, until, service)
    with engine.store.session() as session:
        names = engine.settings.scheme.names
        return compute_metrics(session, period, now=utcnow(), severities=names).as_dict()


@router.get("/incidents/{incident_id}/similar")
def similar(
    request: Request, incident_id: IncidentId, limit: Annotated[int, Query(ge=1, le=50)] = 5
) -> dict[str, Any]:
    """The closest past incidents, with what they share (the same as `ic similar --json`)."""
    matches = find_similar(_engine(request).store, incident_id, limit=limit)
    return {"incident_id": incident_id, "similar": [m.as_dict() for m in matches]}


@router.post("/deployments", status_code=201)
def deployment(request: Request, body: DeployEvent) -> dict[str, Any]:
    """Record a deploy; it feeds the suspect-deploy rule."""
    deploy = _engine(request).record_deploy(
        service=body.service,
        version=body.version,
        commit=body.commit,
        deployed_by=body.deployed_by,
        deployed_at=body.deployed_at,
    )
    return {
        "id": deploy.id,
        "service": deploy.service,
        "version": deploy.version,
        "deployed_at": isoformat(deploy.deployed_at),
    }


# The action items' routes live in their own module, under the same prefix and guard.
router.include_router(actions.router)
