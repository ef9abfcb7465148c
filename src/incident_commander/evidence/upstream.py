"""Inputs that earlier stages of a release may leave behind, used when they are there.

The protocol's prerequisites name five artifacts from the monitoring, deployment and rollback
rehearsal stages. None is required to act; each counts when found:

- ``production-deployment-report.json`` can be recorded as the deploy
  (``ic deploy record --from FILE``);
- ``rollback-verification-report.json`` (a rehearsed rollback) becomes a readiness item of each
  option it names;
- ``ic gate check ID --gate prerequisites`` lists which were found and which were missing.

They are looked for in the workspace folder, in ``.artifacts/`` (two levels deep) and in
``.cursor/context-kit/``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "REHEARSAL",
    "UPSTREAM_INPUTS",
    "DeploymentReport",
    "find_inputs",
    "read_deployment",
    "rehearsal_item",
]

REHEARSAL = "rollback-verification-report.json"
DEPLOYMENT = "production-deployment-report.json"
UPSTREAM_INPUTS = (
    "MONITORING-PACKAGE.zip",
    "alert-test-results.json",
    DEPLOYMENT,
    REHEARSAL,
    "incident-playbook.md",
)
_MAX_BYTES = 1024 * 1024


def _places(base_dir: Path) -> list[Path]:
    artifacts = base_dir / ".artifacts"
    places = [base_dir, artifacts, base_dir / ".cursor" / "context-kit"]
    if artifacts.is_dir():
        for child in sorted(artifacts.iterdir()):
            if child.is_dir() and child.name != "incidents":
                places.append(child)
    return places


def find_inputs(base_dir: Path) -> dict[str, Path | None]:
    """Each upstream input and where it was found (``None``: missing)."""
    found: dict[str, Path | None] = {}
    for name in UPSTREAM_INPUTS:
        found[name] = next((p / name for p in _places(base_dir) if (p / name).is_file()), None)
    return found


def _read_json(path: Path) -> Any:
    if path.stat().st_size > _MAX_BYTES:
        raise ValueError(f"{path.name} is over {_MAX_BYTES // 1024} KiB")
    return json.loads(path.read_text(encoding="utf-8"))


class DeploymentReport(BaseModel):
    """The deploy a ``production-deployment-report.json`` describes."""

    model_config = ConfigDict(extra="ignore")

    service: str = Field(min_length=1, max_length=128)
    version: str = Field(min_length=1, max_length=128)
    commit: str | None = Field(default=None, max_length=128)
    deployed_by: str | None = Field(default=None, max_length=200)
    deployed_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _nested(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("deployment"), dict):
            return {**value, **value["deployment"]}
        return value


def read_deployment(path: Path) -> DeploymentReport:
    """The deploy named by a deployment report; ``ValueError`` naming what is wrong."""
    try:
        return DeploymentReport.model_validate(_read_json(path))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc.msg} (line {exc.lineno})") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'report'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"{path} does not describe a deploy: {problems}") from None


def _rehearsals(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        return []
    listed = data.get("rollbacks", data.get("results"))
    rows = listed if isinstance(listed, list) else [data]
    when = data.get("verified_at") or data.get("date")
    return [{"verified_at": when, **row} for row in rows if isinstance(row, dict)]


def rehearsal_item(base_dir: Path, option: str) -> dict[str, Any] | None:
    """A readiness item from a rehearsed rollback of ``option``, when a report names it."""
    path = find_inputs(base_dir)[REHEARSAL]
    if path is None:
        return None
    item = f"{option}: rollback rehearsed ({REHEARSAL})"
    try:
        rows = _rehearsals(_read_json(path))
    except (OSError, ValueError) as exc:
        return {"item": item, "method": str(path), "passed": False, "detail": f"unreadable: {exc}"}
    mine = [row for row in rows if row.get("option") == option]
    if not mine:
        return None
    latest = mine[-1]
    status = str(latest.get("status", "unknown")).lower()
    passed = status in {"passed", "pass", "succeeded", "success", "ok"}
    return {
        "item": item,
        "method": str(path),
        "passed": passed,
        "detail": f"{status} on {latest.get('verified_at') or 'an unrecorded date'}",
    }
