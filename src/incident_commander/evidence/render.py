"""Rendering each evidence file of PROTOCOL §2 from an :class:`IncidentRecord`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from incident_commander.clock import isoformat
from incident_commander.config import Settings
from incident_commander.evidence.chain import CHAIN_FILE, chain_file, event_line, timeline_entry
from incident_commander.evidence.manifest import added_entries
from incident_commander.evidence.record import IncidentRecord
from incident_commander.executors.base import ExecutionStatus
from incident_commander.store.models import Decision, Execution
from incident_commander.store.state import resolution_of

__all__ = ["STEP_FILES", "durations", "render_all"]

INTAKE = "incident-intake-log.md"
SEVERITY = "severity-assessment.json"
COMMUNICATION = "communication-log.md"
PLAN = "mitigation-plan.md"
READINESS = "rollback-readiness-checklist.json"
DECISIONS = "decision-log.json"
EXECUTION = "mitigation-execution-report.json"
VALIDATION = "recovery-validation.json"
TIMELINE = "incident-timeline.md"
RESOLUTION = "resolution-summary.json"
TUNING = "alert-tuning-feedback.json"
MONITORING = "extended-monitoring.json"
STEP_FILES = (
    *(INTAKE, SEVERITY, COMMUNICATION, PLAN, READINESS, DECISIONS, EXECUTION, VALIDATION),
    *(TIMELINE, CHAIN_FILE, RESOLUTION, MONITORING, TUNING),
)


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def durations(record: IncidentRecord) -> dict[str, float | None]:
    """Seconds from the first signal to each milestone (``None`` when not reached)."""
    inc = record.incident
    rollback_started = record.executions[0].started_at if record.executions else None
    return {
        "time_to_detect_s": _seconds(inc.first_signal_at, inc.detected_at),
        "time_to_acknowledge_s": _seconds(inc.first_signal_at, inc.acknowledged_at),
        "time_to_rollback_start_s": _seconds(inc.first_signal_at, rollback_started),
        "time_to_mitigate_s": _seconds(inc.first_signal_at, inc.mitigated_at),
        "time_to_recover_s": _seconds(inc.first_signal_at, inc.recovered_at),
        "time_to_resolve_s": _seconds(inc.first_signal_at, inc.resolved_at),
    }


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _intake(record: IncidentRecord) -> str:
    inc = record.incident
    lines = [
        f"# Incident intake log — {inc.id}",
        "",
        f"- Title: {inc.title}",
        f"- Service: {inc.service}",
        f"- Source: {inc.source}",
        f"- Detected by: {inc.detected_by}",
        f"- First signal: {isoformat(inc.first_signal_at)}",
        f"- Declared: {isoformat(inc.detected_at)}",
        "",
        "## Symptoms",
        "",
        *([f"- {s}" for s in inc.symptoms] or ["- none recorded"]),
        "",
        "## Signals taken in",
        "",
    ]
    for signal in record.signals:
        lines += [
            f"### {isoformat(signal.at)} — {signal.source} ({signal.detected_by})",
            "",
            signal.summary,
            "",
            "```json",
            json.dumps(signal.details, indent=2, ensure_ascii=False, default=str),
            "```",
            "",
        ]
    return "\n".join(lines)


def _severity(record: IncidentRecord, settings: Settings) -> str:
    inc = record.incident
    assessment = inc.assessment or {}
    scheme = settings.scheme
    confirmed = record.decision("severity")
    rank = scheme.rank(inc.severity) if inc.severity in scheme.names else None
    level = scheme.level(inc.severity) if rank is not None and inc.severity else None
    return _json(
        {
            "incident_id": inc.id,
            "severity": inc.severity,
            "scheme": scheme.name,
            "levels": scheme.names,
            "meaning": level.meaning if level else None,
            "answers": assessment.get("answers"),
            "tree_path": assessment.get("path"),
            "impacted_components": (assessment.get("answers") or {}).get("impacted_components"),
            "targets": {
                "response": level.response if level else None,
                "resolution": level.resolution if level else None,
                "status_update_every_minutes": 15 if rank is not None and rank < 2 else None,
                "post_incident_review": "within 7 days" if rank is not None and rank < 2 else None,
            },
            "assessed_by": assessment.get("assessed_by"),
            "assessed_at": assessment.get("assessed_at"),
            "history": assessment.get("history", []),
            "confirmed": inc.severity_confirmed,
            "confirmation": _decision(confirmed) if confirmed else None,
        }
    )


def _communication(record: IncidentRecord) -> str:
    lines = [
        f"# Communication log — {record.incident.id}",
        "",
        "| time (UTC) | channel | audience | message | delivery |",
        "|---|---|---|---|---|",
    ]
    for note in record.notifications:
        result = "delivered" if note.ok else "FAILED"
        lines.append(
            f"| {isoformat(note.at)} | {_md_cell(note.channel)} | {_md_cell(note.audience)} | "
            f"{_md_cell(note.subject)} | {result}: {_md_cell(note.detail)} |"
        )
    if not record.notifications:
        lines.append("| — | — | — | no notifications sent | — |")
    lines += ["", "## Messages", ""]
    for note in record.notifications:
        lines += [f"### {isoformat(note.at)} — {note.subject}", "", note.body, ""]
    return "\n".join(lines)


def _gathered(record: IncidentRecord) -> list[str]:
    """The plan's "Evidence gathered" line: each root-cause input archived so far."""
    shown = []
    for entry in added_entries(record):
        code = entry.get("exit_code")
        name = str(entry["path"]).rsplit("/", 1)[-1]
        shown.append(f"`{name}`" + (f" (exit {code})" if code is not None else ""))
    if not shown:
        return []
    return [f"- Evidence gathered: {', '.join(shown)} — listed in `rca-manifest.json`"]


def _plan(record: IncidentRecord) -> str:
    plan = record.incident.plan or {}
    suspect = record.suspect_deploy
    rec = plan.get("recommendation", {})
    lines = [
        f"# Mitigation plan — {record.incident.id}",
        "",
        f"Written {plan.get('written_at')} (revision {plan.get('revision', 1)}).",
        "",
        "## Context",
        "",
        f"- Severity: {record.incident.severity}",
        "- Suspect deploy: "
        + (
            f"{suspect.service} {suspect.version} at {isoformat(suspect.deployed_at)}"
            + (f" (commit {suspect.commit})" if suspect.commit else "")
            if suspect
            else "none within the window"
        ),
        f"- Last known good release: {plan.get('target_release') or 'not identified'}",
        f"- Root cause known: {plan.get('root_cause_known')}; "
        f"fix estimate: {plan.get('fix_minutes') or 'unknown'} min"
        + (f"; fix version: {plan['fix_version']}" if plan.get("fix_version") else ""),
        f"- Kind of incident: {', '.join(plan.get('incident_kinds') or []) or 'not known'}",
        *_gathered(record),
        "",
        "## Options",
        "",
        "| option | kind | purpose | risk | reversible | expected time | prerequisites "
        "| runnable by ic |",
        "|---|---|---|---|---|---|---|---|",
    ]
    caveats = []
    for opt in plan.get("options", []):
        caveats += [f"- **{opt['name']}**: {_md_cell(text)}" for text in opt.get("caveats", [])]
        lines.append(
            f"| {opt['name']} | {opt['kind']} | {opt.get('purpose', 'rollback')} | "
            f"{_md_cell(opt['risk'])} | "
            f"{'yes' if opt['reversible'] else 'no'} | {opt['expected_minutes']:g} min | "
            f"{_md_cell('; '.join(opt['prerequisites']))} | "
            f"{'yes' if opt['executable'] else 'no (manual)'} |"
        )
    if caveats:
        lines += ["", "## Read before approving", "", *caveats]
    lines += [
        "",
        "## Recommendation",
        "",
        f"**{rec.get('decision', 'none')}** — tree path: {' → '.join(rec.get('path', []))}",
        "",
        "Execution order (each next one is tried if the previous fails): "
        + (", ".join(plan.get("chosen", [])) or "none"),
        "",
    ]
    if plan.get("chosen_by"):
        lines += [f"Chosen by {plan['chosen_by']} instead of the recommendation.", ""]
    return "\n".join(lines)


def _decision(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.id,
        "kind": decision.kind,
        "subject": decision.subject,
        "prompt": decision.prompt,
        "asked_at": isoformat(decision.asked_at),
        "answered_at": isoformat(decision.answered_at),
        "answer": decision.answer,
        "approver": decision.approver,
        "approver_type": decision.approver_type,
        "rationale": decision.rationale,
        "expires_at": isoformat(decision.expires_at),
        "requires": decision.requires or [],
        "votes": decision.votes or [],
    }


def _execution(execution: Execution) -> dict[str, Any]:
    return {
        "option": execution.option_name,
        "kind": execution.kind,
        "idempotency_key": execution.idempotency_key,
        "approved_by_decision": execution.decision_id,
        "status": execution.status,
        "target_release": execution.target_release,
        "release_before": execution.release_before,
        "release_after": execution.release_after,
        "started_at": isoformat(execution.started_at),
        "finished_at": isoformat(execution.finished_at),
        "duration_s": execution.duration_s,
        "error": execution.error,
        "commands": execution.commands,
    }


def _timeline(record: IncidentRecord) -> str:
    lines = [
        f"# Incident timeline — {record.incident.id}",
        "",
        "Each line: sequence, time (UTC), event, detail, and the chain hash covering the",
        f"previous hash, the line and the event's data (in `{CHAIN_FILE}`).",
        "`ic evidence verify` recomputes it.",
        "",
    ]
    for ev in record.events:
        lines.append(timeline_entry(event_line(ev.seq, ev.at, ev.kind, ev.message), ev.hash))
    return "\n".join(lines) + "\n"


def _resolution(record: IncidentRecord) -> str:
    inc = record.incident
    resolution = inc.resolution or {}
    return _json(
        {
            "incident_id": inc.id,
            "status": inc.status,
            "severity": inc.severity,
            "resolution": resolution.get("summary"),
            "confirmed_by": resolution.get("confirmed_by"),
            "action": resolution.get("action"),
            "release_after": resolution.get("release_after"),
            "timestamps": {
                "first_signal": isoformat(inc.first_signal_at),
                "detected": isoformat(inc.detected_at),
                "acknowledged": isoformat(inc.acknowledged_at),
                "mitigated": isoformat(inc.mitigated_at),
                "recovered": isoformat(inc.recovered_at),
                "resolved": isoformat(inc.resolved_at),
                "closed": isoformat(inc.closed_at),
            },
            "durations": durations(record),
            "extended_monitoring": resolution.get("extended_monitoring"),
            "stakeholders_informed": resolution.get("stakeholders_informed"),
        }
    )


def _monitoring(incident_id: str, points: list[dict[str, Any]]) -> str:
    counts = {
        status: sum(1 for p in points if p.get("status") == status)
        for status in ("passed", "failed", "due", "running", "cancelled")
    }
    shown = [{k: v for k, v in p.items() if k not in ("by", "until")} for p in points]
    return _json(
        {
            "incident_id": incident_id,
            "schedule": "checkpoints after resolution; each runs the service's recovery checks",
            "counts": counts,
            "complete": counts["passed"] == len(points),
            "checkpoints": shown,
        }
    )


def render_all(record: IncidentRecord, settings: Settings) -> dict[str, str]:
    """Every file whose step has happened, by name. The report and RCA are written elsewhere."""
    inc = record.incident
    files = {
        INTAKE: _intake(record),
        TIMELINE: _timeline(record),
        CHAIN_FILE: chain_file(
            (event_line(ev.seq, ev.at, ev.kind, ev.message), ev.data, ev.prev_hash, ev.hash)
            for ev in record.events
        ),
    }
    if inc.assessment:
        files[SEVERITY] = _severity(record, settings)
    if record.notifications:
        files[COMMUNICATION] = _communication(record)
    if inc.plan:
        files[PLAN] = _plan(record)
    if inc.readiness:
        files[READINESS] = _json({"incident_id": inc.id, **inc.readiness})
    if record.decisions:
        files[DECISIONS] = _json(
            {"incident_id": inc.id, "decisions": [_decision(d) for d in record.decisions]}
        )
    if record.executions:
        files[EXECUTION] = _json(
            {
                "incident_id": inc.id,
                "executions": [_execution(e) for e in record.executions],
                "succeeded": any(e.status == ExecutionStatus.SUCCEEDED for e in record.executions),
            }
        )
    if inc.validation:
        files[VALIDATION] = _json({"incident_id": inc.id, **inc.validation})
    if inc.resolution and inc.status != "false_positive":
        files[RESOLUTION] = _resolution(record)
        points = (inc.resolution or {}).get("checkpoints")
        if isinstance(points, list) and points:
            files[MONITORING] = _monitoring(inc.id, points)
    if inc.status == "false_positive":
        entry = resolution_of(inc).false_positive
        files[TUNING] = _json({"incident_id": inc.id, "false_positives": [entry] if entry else []})
    return files
