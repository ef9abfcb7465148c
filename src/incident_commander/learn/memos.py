"""Decision memos: one Markdown record per incident in ``artifacts/decision-memos/``.

``ic memo export ID`` writes ``INC-….md`` (relative to the workspace, the folder of ``ic.yaml``)
from what the store and the evidence folder hold: front matter (``id``, ``type:
decision-memo``, ``status``, ``depends_on``, dates, severity) and the sections that
``artifacts.REQUIRED_SECTIONS`` lists. ``ic memo promote ID`` moves a memo from draft to review
to final, each step only once gate 4 (resolution and documentation) passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined

from incident_commander.clock import isoformat, utcnow
from incident_commander.errors import InvalidInput, TransitionRejected
from incident_commander.evidence.files import atomic_write, sha256_file
from incident_commander.evidence.record import IncidentRecord
from incident_commander.learn.artifacts import (
    MEMO_TYPE,
    STATUSES,
    MemoFormatError,
    parse_memo,
    validate_artifact,
)
from incident_commander.store.state import resolution_of

if TYPE_CHECKING:
    from incident_commander.protocol.engine import Engine

__all__ = ["MEMO_DIR", "Promotion", "export_memo", "memo_path", "promote_memo", "render_memo"]

MEMO_DIR = "artifacts/decision-memos"

_env = Environment(
    loader=PackageLoader("incident_commander.reports", "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701 - Markdown, not HTML
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["iso"] = isoformat
_env.filters["cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")


@dataclass(frozen=True)
class Promotion:
    """A memo moved from one status to the next."""

    path: Path
    before: str
    after: str


def memo_path(base_dir: Path, incident_id: str) -> Path:
    """Where the memo of ``incident_id`` lives in the workspace."""
    return base_dir / MEMO_DIR / f"{incident_id}.md"


class _PlainDumper(yaml.SafeDumper):
    """YAML a person edits: equal values written out each time, never as anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _front_matter(front: dict[str, Any]) -> str:
    dumped = yaml.dump(front, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{dumped}---\n"


def _evidence_files(folder: Path) -> list[tuple[str, str]]:
    if not folder.is_dir():
        return []
    return [
        (path.name, sha256_file(path))
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".")
    ]


def render_memo(
    record: IncidentRecord,
    *,
    scheme: str,
    evidence_dir: Path,
    shown_dir: str,
    status: str = "draft",
    depends_on: list[str] | None = None,
    created: date | None = None,
    actions: list[dict[str, Any]] | None = None,
) -> str:
    """The memo's text: front matter, then the sections, from the record and its evidence.

    ``actions``: the incident's action items (``Engine.actions``), listed with the review.
    """
    inc = record.incident
    today = utcnow().date()
    front = {
        "id": inc.id,
        "type": MEMO_TYPE,
        "title": inc.title,
        "status": status,
        "depends_on": list(depends_on or []),
        "created": created or today,
        "updated": today,
        "incident_date": inc.first_signal_at.date(),
        "severity": inc.severity or "unassessed",
        "service": inc.service,
    }
    validation = inc.validation or {}
    milestones = [
        ("first signal", inc.first_signal_at),
        ("declared", inc.detected_at),
        ("acknowledged", inc.acknowledged_at),
        ("mitigated", inc.mitigated_at),
        ("recovered", inc.recovered_at),
        ("resolved", inc.resolved_at),
        ("closed", inc.closed_at),
    ]
    body = _env.get_template("runbook/decision-memo.md.j2").render(
        inc=inc,
        record=record,
        scheme=scheme,
        assessment=inc.assessment or {},
        answers=(inc.assessment or {}).get("answers") or {},
        plan=inc.plan or {},
        decisions=record.decisions,
        latest=(validation.get("attempts") or [None])[-1],
        resolution=inc.resolution or {},
        review={
            **resolution_of(inc).review,
            "actions": [
                {"text": a["title"], "owner": a["owner"], "due": a["due"]} for a in actions or []
            ],
        },
        milestones=milestones,
        evidence_dir=shown_dir,
        files=_evidence_files(evidence_dir),
    )
    return _front_matter(front) + body


def _existing(path: Path) -> dict[str, Any] | None:
    """The front matter of the memo already at ``path`` (``None`` when there is none)."""
    if not path.is_file():
        return None
    try:
        return parse_memo(path.read_text(encoding="utf-8").replace("\r\n", "\n")).front
    except (MemoFormatError, UnicodeDecodeError, OSError):
        return {"status": "unreadable"}


def export_memo(
    engine: Engine, incident_id: str, *, depends_on: list[str] | None = None, force: bool = False
) -> Path:
    """Write (or rewrite) the memo of an incident as a draft; return its path.

    A memo already in review or final is kept unless ``force``; a draft is rewritten with the
    latest record, keeping its creation date and its ``depends_on`` unless new ones are given.
    """
    record = engine.record(incident_id)
    base = engine.settings.base_dir
    path = memo_path(base, record.incident.id)
    previous = _existing(path)
    if previous is not None and previous.get("status") != "draft" and not force:
        raise InvalidInput(
            f"{path.relative_to(base)} is {previous.get('status')}, not a draft; "
            "exporting again would replace it",
            hint="pass --force to write it again as a draft",
        )
    kept = previous or {}
    created = kept.get("created") if isinstance(kept.get("created"), date) else None
    depends = depends_on if depends_on else kept.get("depends_on")
    folder = engine.evidence.path(record.incident.id)
    text = render_memo(
        record,
        scheme=engine.settings.scheme.name,
        evidence_dir=folder,
        shown_dir=_shown(folder, base),
        depends_on=depends if isinstance(depends, list) else None,
        created=created,
        actions=engine.actions(record.incident.id),
    )
    atomic_write(path, text.encode("utf-8"))
    return path


def _shown(folder: Path, base: Path) -> str:
    try:
        return str(folder.relative_to(base))
    except ValueError:
        return str(folder)


def promote_memo(engine: Engine, incident_id: str) -> Promotion:
    """Move the memo one status on (draft → review → final) once gate 4 passes."""
    base = engine.settings.base_dir
    path = memo_path(base, incident_id)
    shown = path.relative_to(base)
    if not path.is_file():
        raise InvalidInput(
            f"no decision memo for {incident_id} at {shown}",
            hint=f"run `ic memo export {incident_id}` first",
        )
    problems = validate_artifact(path)
    if problems:
        raise InvalidInput(
            f"{shown} does not validate: "
            + "; ".join(f"{p.where}: {p.expected}" for p in problems),
            hint=f"fix it, or `ic memo export {incident_id}` to write it again",
        )
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    memo = parse_memo(text)
    before = str(memo.front["status"])
    if before == STATUSES[-1]:
        raise InvalidInput(f"{shown} is already {before}")
    gate = engine.gate(incident_id, "4")
    if not gate.passed:
        raise TransitionRejected(
            f"{incident_id}: the memo stays {before}: {gate.title} fails: {gate.found}",
            hint=gate.next_step,
        )
    after = STATUSES[STATUSES.index(before) + 1]
    front = {**memo.front, "status": after, "updated": utcnow().date()}
    atomic_write(path, (_front_matter(front) + memo.body).encode("utf-8"))
    return Promotion(path=path, before=before, after=after)
