"""Phase 4: recording what the post-incident review found (5 Whys, root cause, actions)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from incident_commander.errors import InvalidInput, TransitionRejected
from incident_commander.protocol.states import Status
from incident_commander.store.state import resolution_of

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["ActionItem", "Review", "record_review"]


class ActionItem(BaseModel):
    """A follow-up with an owner and a due date."""

    text: str = Field(min_length=1, max_length=1000)
    owner: str = Field(min_length=1, max_length=200)
    due: date


class Review(BaseModel):
    """What the post-incident review found; every field optional, lists replace when given."""

    root_cause: str | None = Field(default=None, max_length=5000)
    whys: list[str] = Field(default_factory=list, max_length=20)
    contributing: list[str] = Field(default_factory=list, max_length=50)
    went_well: list[str] = Field(default_factory=list, max_length=50)
    went_poorly: list[str] = Field(default_factory=list, max_length=50)
    lucky: list[str] = Field(default_factory=list, max_length=50)
    actions: list[ActionItem] = Field(default_factory=list, max_length=50)


def record_review(kernel: Kernel, incident_id: str, review: Review, *, recorded_by: str) -> None:
    """Add the review's findings to a resolved incident; the report is rewritten with them."""
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        if inc.status not in (Status.RESOLVED, Status.MONITORING, Status.CLOSED):
            raise TransitionRejected(
                f"{inc.id}: the post-incident review is recorded once the incident is resolved "
                f"(now {inc.status})"
            )
        given = review.model_dump(mode="json", exclude_defaults=True)
        if not given:
            raise InvalidInput("nothing to record: give a root cause, whys, factors or actions")
        previous = resolution_of(inc).review
        inc.resolution = {**(inc.resolution or {}), "review": {**previous, **given}}
        journal.event(
            inc,
            "postmortem.recorded",
            f"post-incident review by {recorded_by}: {', '.join(sorted(given))}",
        )
