"""Writing what happens: timeline events (hash-chained), notifications and approval prompts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from incident_commander.clock import isoformat, utcnow
from incident_commander.config import ApprovalKind, Settings
from incident_commander.evidence import seal
from incident_commander.evidence.chain import GENESIS, event_hash, event_line
from incident_commander.notify.base import EventChannelConfig, NotifierConfig
from incident_commander.notify.messages import PUBLIC_KINDS, MessageKind, public_state, render
from incident_commander.notify.routing import recipients
from incident_commander.protocol.planning import incident_kinds
from incident_commander.protocol.policies import PolicyContext, matching_policy
from incident_commander.store.models import Decision, Deploy, Event, Incident, Notification

__all__ = [
    "PROMPTS",
    "Journal",
    "event_json",
    "incident_link",
    "message_context",
    "phase_complete",
    "phase_start",
]

PHASE_START = {
    1: "[PHASE 1 START] - Monitoring production alerts for incident signals...",
    2: "[PHASE 2 START] - Identifying mitigation strategy for incident containment...",
    3: "[PHASE 3 START] - Executing approved mitigation/rollback actions...",
    4: "[PHASE 4 START] - Confirming incident resolution and notifying stakeholders...",
}
PHASE_NAME = {
    1: "Detection and severity assessment",
    2: "Containment and mitigation planning",
    3: "Execution and recovery validation",
    4: "Resolution and documentation",
}
PROMPTS: dict[str, str] = {
    "severity": "[SEVERITY CONFIRMATION] Incident classified as {subject}. "
    "Approve mitigation planning? (yes/no)",
    "mitigation": "[MITIGATION APPROVAL] Proposed action: {subject}. "
    "Execute mitigation now? (yes/no)",
    "resolution": "[RESOLUTION CONFIRMATION] System stabilized. "
    "Close incident and trigger postmortem package? (yes/no)",
}
APPROVAL_LABEL = {
    "severity": "severity confirmation",
    "mitigation": "mitigation approval",
    "resolution": "resolution confirmation",
}


def incident_link(settings: Settings, incident_id: str) -> str:
    """Where to read about an incident: the API (with ``public_url``) or its evidence folder."""
    if settings.public_url:
        return f"{settings.public_url.rstrip('/')}/api/v1/incidents/{incident_id}"
    return str(settings.evidence_dir / incident_id)


def message_context(session: Session, settings: Settings, inc: Incident) -> dict[str, Any]:
    """What every message template may use: the incident, its suspect deploy and a link."""
    suspect = session.get(Deploy, inc.suspect_deploy_id) if inc.suspect_deploy_id else None
    return {
        "incident": {
            "id": inc.id,
            "title": inc.title,
            "service": inc.service,
            "severity": inc.severity,
            "status": inc.status,
            "symptoms": list(inc.symptoms or []),
        },
        "public_state": public_state(inc.status),
        "suspect": {
            "service": suspect.service,
            "version": suspect.version,
            "commit": suspect.commit,
            "deployed_at": isoformat(suspect.deployed_at),
        }
        if suspect
        else None,
        "link": incident_link(settings, inc.id),
        "text": None,  # optional words of a person (manual and status updates)
        "by": None,
    }


def event_json(inc: Incident, row: Event) -> str:
    """A timeline event as the JSON an event webhook receives."""
    return json.dumps(
        {
            "event": row.kind,
            "seq": row.seq,
            "at": isoformat(row.at),
            "message": row.message,
            "incident": {
                "id": inc.id,
                "service": inc.service,
                "severity": inc.severity,
                "status": inc.status,
                "title": inc.title,
            },
        },
        ensure_ascii=False,
    )


def phase_start(n: int) -> str:
    return PHASE_START[n]


def phase_complete(n: int) -> str:
    return f"[PHASE {n} COMPLETE] - {PHASE_NAME[n]} finished successfully."


class Journal:
    """Appends to an incident's record inside the caller's transaction."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.emitted: list[tuple[str, str, str]] = []  # (incident id, kind, text)
        self.touched: set[str] = set()
        self.postmortem: set[str] = set()
        self.queued: list[Notification] = []  # the outbox rows of this step
        self._heads: dict[str, tuple[int, str]] = {}

    def event(
        self, inc: Incident, kind: str, message: str, data: dict[str, Any] | None = None
    ) -> Event:
        """Append one timeline line, chained to the one before; its hash covers its data.

        When the step commits, the incident's last event of the step also carries the digests
        of everything recorded about it (see ``evidence.seal``).
        """
        appended = seal.last_event(self.session, inc.id)
        if appended is not None:
            self._heads[inc.id] = (appended.seq, appended.hash)
        elif inc.id not in self._heads:
            last = self.session.scalars(
                select(Event).where(Event.incident_id == inc.id).order_by(Event.seq.desc()).limit(1)
            ).first()
            self._heads[inc.id] = (last.seq, last.hash) if last else (0, GENESIS)
        last_seq, prev = self._heads[inc.id]
        seq = last_seq + 1
        at = utcnow()
        text = " ".join(message.split())
        line = event_line(seq, at, kind, text)
        content = dict(data or {})
        row = Event(
            incident_id=inc.id,
            seq=seq,
            at=at,
            kind=kind,
            message=text,
            data=content,
            prev_hash=prev,
            hash=event_hash(prev, line, content),
        )
        self.session.add(row)
        seal.appended(self.session, self.settings.evidence_dir, inc, row)
        self._heads[inc.id] = (seq, row.hash)
        inc.updated_at = at
        self.touched.add(inc.id)
        self.emitted.append((inc.id, kind, text))
        self._forward(inc, row)
        return row

    def tell(
        self,
        inc: Incident,
        kind: MessageKind,
        context: dict[str, Any] | None = None,
        *,
        audience: str | None = None,
        public: bool | None = None,
    ) -> list[Notification]:
        """Queue a message of ``kind`` for every channel routed for the incident.

        Each channel gets the kind's template rendered in its format (values from outside
        escaped, mentions neutralised, cut to its limit). The rows are part of the step's
        transaction (an outbox): nothing is sent while the step holds the store, and a step that
        rolls back sends nothing. ``Kernel.transaction`` hands them to the outbox once the step
        commits; the outbox records each delivery's result.
        """
        public = kind in PUBLIC_KINDS if public is None else public
        channels = recipients(
            self.settings.notifications,
            self.settings.routing,
            severity=inc.severity,
            service=inc.service,
            public=public,
            audience=audience,
        )
        if not channels:
            return []
        values = {**message_context(self.session, self.settings, inc), **(context or {})}
        queued = []
        for channel in channels:
            message = render(
                kind,
                values,
                fmt=channel.format,
                max_chars=channel.max_chars,
                overrides=self.settings.templates_dir,
            )
            if message.problem:
                self.event(
                    inc,
                    "notification.template",
                    f"{kind} for {channel.name}: {message.problem}; the shipped template was used",
                )
            queued.append(
                self._queue(inc, channel, kind.value, message.subject, message.body, public)
            )
        return queued

    def notify(self, inc: Incident, subject: str, body: str) -> list[Notification]:
        """Queue an internal update with this headline and text (see ``tell``)."""
        return self.tell(inc, MessageKind.INTERNAL_UPDATE, {"headline": subject, "text": body})

    def _queue(
        self,
        inc: Incident,
        channel: NotifierConfig,
        kind: str,
        subject: str,
        body: str,
        public: bool,
    ) -> Notification:
        row = Notification(
            incident_id=inc.id,
            at=utcnow(),
            channel=channel.name,
            audience=channel.audience,
            subject=subject,
            body=body,
            ok=False,
            detail="queued for delivery",
            status="pending",
            attempts=0,
            kind=kind,
            public=public,
        )
        self.session.add(row)
        self.queued.append(row)
        return row

    def _forward(self, inc: Incident, row: Event) -> None:
        """Queue the event for every event webhook subscribed to its kind."""
        if row.kind.startswith("notification."):
            return  # a delivery's own record is never delivered again
        for channel in self.settings.notifications:
            if isinstance(channel, EventChannelConfig) and channel.wants(row.kind):
                self._queue(inc, channel, "event", row.kind, event_json(inc, row), False)

    def ask(
        self,
        inc: Incident,
        kind: ApprovalKind,
        subject: str,
        *,
        suspect: Deploy | None,
        action_names: tuple[str, ...] = (),
        action_kinds: tuple[str, ...] = (),
    ) -> tuple[Decision, str | None]:
        """Open an approval prompt; return it and the name of a policy that answers it, if any."""
        prompt = PROMPTS[kind].format(subject=subject)
        rule = self.settings.approvals.rule(kind)
        asked = utcnow()
        ttl = rule.ttl_for(inc.severity)
        kinds = incident_kinds(
            (inc.assessment or {}).get("answers"), suspect_deploy=suspect is not None
        )
        roles = rule.roles_for(kinds)
        decision = Decision(
            incident_id=inc.id,
            kind=kind,
            subject=subject,
            prompt=prompt,
            asked_at=asked,
            expires_at=asked + timedelta(minutes=ttl) if ttl else None,
            requires=roles or None,
            votes=[] if roles else None,
        )
        self.session.add(decision)
        self.session.flush()
        inc.pending_approval = kind
        self.event(inc, "approval.asked", prompt, {"decision_id": decision.id})
        if ttl or roles:
            self.event(
                inc,
                "approval.terms",
                f"{APPROVAL_LABEL[kind]}: "
                + (
                    f"answer within {ttl:g} min (by {isoformat(decision.expires_at)})"
                    if ttl
                    else ""
                )
                + ("; " if ttl and roles else "")
                + (f"needs a yes from each role: {', '.join(roles)}" if roles else ""),
                {"decision_id": decision.id},
            )
        if roles:  # people in named roles must answer: no policy answers for them
            return decision, None
        policy = matching_policy(
            self.settings.policies,
            PolicyContext(
                kind=kind,
                service=inc.service,
                severity=inc.severity,
                first_signal_at=inc.first_signal_at,
                suspect_deployed_at=suspect.deployed_at if suspect else None,
                action_names=action_names,
                action_kinds=action_kinds,
            ),
        )
        return decision, policy.name if policy else None

    def record_answer(
        self, inc: Incident, decision: Decision, *, yes: bool, approver: str, kind: str, why: str
    ) -> None:
        """Write the answer on the decision and the timeline."""
        decision.answer = "yes" if yes else "no"
        decision.answered_at = utcnow()
        decision.approver = approver
        decision.approver_type = kind
        decision.rationale = why
        inc.pending_approval = None
        label = APPROVAL_LABEL[decision.kind]
        self.event(
            inc,
            "approval.answered",
            f"{label}: {decision.answer} by {approver} ({kind}){': ' + why if why else ''}",
            {"decision_id": decision.id},
        )
