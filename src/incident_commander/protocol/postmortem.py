"""Phase 4 documents: root-cause inputs with their manifest, and the incident report."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from incident_commander.clock import isoformat
from incident_commander.config import Settings
from incident_commander.evidence.folder import EvidenceFolder
from incident_commander.evidence.record import IncidentRecord
from incident_commander.reports.report import REPORT, render_report
from incident_commander.store.models import Deploy

__all__ = ["write_postmortem", "write_report"]


def write_postmortem(evidence: EvidenceFolder, session: Session, record: IncidentRecord) -> None:
    """Archive what the root-cause analysis will need, with hashes and evidence levels."""
    inc = record.incident
    inputs: dict[str, tuple[str, str, str]] = {}
    for n, execution in enumerate(record.executions, start=1):
        for m, command in enumerate(execution.commands, start=1):
            text = (
                f"$ {' '.join(command['argv'])}\n"
                f"# exit code: {command['exit_code']}  duration: {command['duration_s']} s\n"
                f"# stdout\n{command['stdout']}\n# stderr\n{command['stderr']}\n"
            )
            inputs[f"execution-{n:02d}-{execution.option_name}-{m:02d}.log"] = (
                text,
                f"command run by {execution.option_name}",
                "receipts",
            )
        inputs[f"execution-{n:02d}-{execution.option_name}-exit.json"] = (
            json.dumps(
                {
                    "status": execution.status,
                    "exit_codes": [c["exit_code"] for c in execution.commands],
                    "release_before": execution.release_before,
                    "release_after": execution.release_after,
                },
                indent=2,
            )
            + "\n",
            "executor result",
            "physics",
        )
    deploys = session.scalars(
        select(Deploy).where(Deploy.service == inc.service).order_by(Deploy.deployed_at)
    )
    inputs["deploy-history.json"] = (
        json.dumps(
            [
                {
                    "version": d.version,
                    "commit": d.commit,
                    "deployed_by": d.deployed_by,
                    "deployed_at": isoformat(d.deployed_at),
                    "suspect": d.id == inc.suspect_deploy_id,
                }
                for d in deploys
            ],
            indent=2,
        )
        + "\n",
        "deploy records",
        "artifacts",
    )
    inputs["signals.json"] = (
        json.dumps(
            [
                {
                    "at": isoformat(s.at),
                    "source": s.source,
                    "summary": s.summary,
                    "details": s.details,
                }
                for s in record.signals
            ],
            indent=2,
            default=str,
        )
        + "\n",
        "intake",
        "receipts",
    )
    if inc.readiness:
        inputs["readiness-checks.json"] = (
            json.dumps(inc.readiness, indent=2, default=str) + "\n",
            "readiness checks of the plan",
            "receipts",
        )
    if inc.validation:
        inputs["recovery-samples.json"] = (
            json.dumps(inc.validation, indent=2) + "\n",
            "recovery validation",
            "receipts",
        )
    evidence.archive_rca(session, record, inputs)


def write_report(
    evidence: EvidenceFolder, settings: Settings, session: Session, record: IncidentRecord
) -> None:
    """(Re)write INCIDENT-REPORT.md from the record."""
    evidence.write(session, record.incident.id, {REPORT: render_report(record, settings)})
