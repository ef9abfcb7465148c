"""The API's action items: list and add an incident's, mark one done (``/api/v1``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from incident_commander.protocol.engine import Engine
from incident_commander.web.guard import MAX_PARAMETER, ApiRoute

__all__ = ["router"]

# Included by ``web.api``, whose router adds the ``/api/v1`` prefix.
router = APIRouter(tags=["api"], route_class=ApiRoute)

IncidentId = Annotated[str, Path(max_length=MAX_PARAMETER)]
ActionNumber = Annotated[int, Path(ge=1, le=2_147_483_647)]


class NewAction(BaseModel):
    title: str = Field(min_length=1, max_length=1000, pattern=r"\S")
    owner: str = Field(min_length=1, max_length=200, pattern=r"\S")
    due: date
    kind: Literal["prevention", "detection", "mitigation", "process"] = "prevention"
    priority: Literal["high", "medium", "low"] = "medium"
    added_by: str = Field(default="api", min_length=1, max_length=200)


class ActionDone(BaseModel):
    note: str | None = Field(default=None, max_length=10_000)
    done_by: str = Field(default="api", min_length=1, max_length=200)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.commander.engine
    return engine


@router.get("/incidents/{incident_id}/actions")
def list_actions(request: Request, incident_id: IncidentId) -> list[dict[str, Any]]:
    """The incident's action items, oldest first (the same as `ic action list ID --json`)."""
    return _engine(request).actions(incident_id)


@router.post("/incidents/{incident_id}/actions", status_code=201)
def add_action(request: Request, incident_id: IncidentId, body: NewAction) -> dict[str, Any]:
    """Add an action item with an owner and a due date; the item as listed."""
    engine = _engine(request)
    n = engine.add_action(
        incident_id,
        title=body.title,
        owner=body.owner,
        due=body.due,
        kind=body.kind,
        priority=body.priority,
        by=body.added_by,
    )
    return next(item for item in engine.actions(incident_id) if item["n"] == n)


@router.post("/actions/{n}/done")
def finish_action(request: Request, n: ActionNumber, body: ActionDone) -> dict[str, Any]:
    """Mark action item ``n`` done, with an optional note; the item as listed."""
    return _engine(request).finish_action(n, note=body.note, by=body.done_by)
