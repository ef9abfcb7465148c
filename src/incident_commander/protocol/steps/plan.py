"""Phase 2 (plan, readiness), phase 3 validation and phase 4 (resolve, close) steps."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from incident_commander.clock import isoformat, utcnow
from incident_commander.errors import InvalidInput, TransitionRejected
from incident_commander.evidence.upstream import rehearsal_item
from incident_commander.executors.base import IDENTIFIER, ExecutionContext, ExecutorConfig
from incident_commander.executors.fixes import fix_items
from incident_commander.plugins import EXECUTORS
from incident_commander.protocol.journal import Journal
from incident_commander.protocol.planning import choose, incident_kinds, options_for, recommend
from incident_commander.protocol.states import Status
from incident_commander.protocol.steps import approve
from incident_commander.store.models import Deploy, Incident
from incident_commander.store.state import plan_of

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["check_readiness", "context_for", "last_known_good", "plan", "release_before"]


def release_before(
    session: Session, service: str, *, until: datetime | None, bad_id: int | None = None
) -> str | None:
    """The version deployed before the bad deploy (``bad_id``, else the latest up to ``until``)."""
    query = select(Deploy).where(Deploy.service == service)
    if until is not None:
        query = query.where(Deploy.deployed_at <= until)
    deploys = list(session.scalars(query.order_by(Deploy.deployed_at.desc(), Deploy.id.desc())))
    bad = next((d for d in deploys if d.id == bad_id), deploys[0] if deploys else None)
    if bad is None:
        return None
    for deploy in deploys:
        if (
            deploy.deployed_at <= bad.deployed_at
            and deploy.id != bad.id
            and deploy.version != bad.version
        ):
            return deploy.version
    return None


def last_known_good(session: Session, inc: Incident) -> str | None:
    """The version deployed before the suspect (or before the latest deploy) of the service."""
    return release_before(
        session, inc.service, until=inc.first_signal_at, bad_id=inc.suspect_deploy_id
    )


def _option_configs(kernel: Kernel, inc: Incident) -> list[ExecutorConfig]:
    service = kernel.settings.services.get(inc.service)
    return list(service.rollback_options) if service else []


def context_for(
    kernel: Kernel, inc: Incident, config: ExecutorConfig | None = None
) -> ExecutionContext:
    """What option ``config`` acts with: the last known good release, or a fix's version."""
    state = plan_of(inc)
    fix = config is not None and config.purpose == "fix"
    target = state.fix_version if fix else state.target_release
    return ExecutionContext(
        incident_id=inc.id,
        service=inc.service,
        base_dir=kernel.settings.base_dir,
        target_release=target,
    )


def plan(
    kernel: Kernel,
    incident_id: str,
    *,
    root_cause_known: bool = False,
    fix_minutes: float | None = None,
    option: str | None = None,
    chosen_by: str | None = None,
    fix_version: str | None = None,
) -> dict[str, Any]:
    """Write the plan and readiness checklist; ask for approval, or halt with the reason."""
    # The plan's evidence is rendered once, after the readiness write (or the halt).
    with kernel.transaction(sync=False) as journal:
        session = journal.session
        inc = kernel.load(session, incident_id)
        if inc.status == Status.HALTED and inc.resume_status == Status.PLANNING:
            kernel.move(journal, inc, Status.PLANNING, "planning again")
        if inc.status != Status.PLANNING:
            raise TransitionRejected(
                f"{inc.id}: planning needs status planning (now {inc.status})"
                + ("; confirm severity first" if not inc.severity_confirmed else "")
            )
        configs = _option_configs(kernel, inc)
        names = [c.name for c in configs]
        if option is not None and option not in names:
            raise InvalidInput(
                f"{inc.id}: no rollback option {option!r} for service {inc.service} "
                f"(configured: {', '.join(names) or 'none'})"
            )
        if fix_version is not None and not IDENTIFIER.match(fix_version):
            raise InvalidInput(
                f"{inc.id}: fix version {fix_version!r} is not a release name "
                "(letters, digits, '.', '_', '-'; at most 128)"
            )
        assert inc.severity is not None
        suspect = kernel.suspect_of(session, inc)
        rec = recommend(
            top_severity=kernel.settings.scheme.rank(inc.severity) == 0,
            suspect_deploy=suspect is not None,
            root_cause_known=root_cause_known,
            fix_minutes=fix_minutes,
        )
        kinds = incident_kinds(
            (inc.assessment or {}).get("answers"), suspect_deploy=suspect is not None
        )
        chosen, reasons = choose(configs, decision=rec.decision, kinds=kinds)
        if option is not None:
            chosen = [option] + [n for n in chosen if n != option]
        target = last_known_good(session, inc)
        revision = plan_of(inc).revision + 1
        inc.plan = {
            "written_at": isoformat(utcnow()),
            "revision": revision,
            "root_cause_known": root_cause_known,
            "fix_minutes": fix_minutes,
            "recommendation": rec.model_dump(),
            "options": [o.model_dump() for o in options_for(configs)],
            "chosen": chosen,
            "chosen_by": chosen_by if option else None,
            "target_release": target,
            "fix_version": fix_version,
            "incident_kinds": kinds,
            "suspect_deploy": suspect.version if suspect else None,
        }
        journal.event(
            inc,
            "plan.written",
            f"recommendation: {rec.decision} ({' → '.join(rec.path)}); "
            + "".join(f"{reason}; " for reason in reasons)
            + f"order: {', '.join(chosen) or 'none'}; last known good: {target or 'unknown'}"
            + (f"; fix version: {fix_version}" if fix_version else ""),
        )
        if not chosen:
            why = (
                f"the rollback-or-fix tree recommends '{rec.decision}', which the tool cannot "
                "carry out; choose an option with `ic plan ID --option NAME`"
                if rec.decision != "rollback"
                else f"no rollback mechanism is configured for service {inc.service}"
            )
            kernel.halt(journal, inc, why)
        else:
            journal.event(inc, "progress", "Validating rollback readiness and dependencies...")
            ctx = context_for(kernel, inc)
        written = dict(inc.plan)
    if not chosen:
        kernel.sync(incident_id)
        return written
    # Readiness touches the world (a script's dry run, a provider's tool): never inside the
    # step's transaction, so a slow check holds up no other writer.
    by_name = {c.name: c for c in configs}
    began = time.monotonic()
    items, ready = _readiness(ctx, by_name, chosen, fix_version)
    took_ms = round((time.monotonic() - began) * 1000, 1)
    with kernel.transaction() as journal:
        inc = kernel.load(journal.session, incident_id)
        now = inc.status
        if Status(now) == Status.PLANNING and plan_of(inc).revision == revision:
            _record_readiness(kernel, journal, inc, by_name, ctx, (items, ready, took_ms))
            return dict(inc.plan or {})
    kernel.sync(incident_id)  # the plan written above is on record: show it
    raise TransitionRejected(
        f"{incident_id}: the plan changed while its readiness was checked (now {now}); "
        "look at `ic show` and plan again"
    )


def check_readiness(
    ctx: ExecutionContext,
    by_name: dict[str, ExecutorConfig],
    chosen: list[str],
    fix_version: str | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each prerequisite of each chosen option, checked now; and the options that are ready."""
    return _readiness(ctx, by_name, chosen, fix_version)


def _requires_release(config: ExecutorConfig) -> bool:
    return EXECUTORS.load(config.kind).needs_release and config.purpose != "containment"


def _readiness(
    ctx: ExecutionContext,
    by_name: dict[str, ExecutorConfig],
    chosen: list[str],
    fix_version: str | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each prerequisite of each chosen option, checked; and the options that are ready."""
    items: list[dict[str, Any]] = []
    if any(_requires_release(by_name[n]) and by_name[n].purpose == "rollback" for n in chosen):
        items.append(
            {
                "item": "last known good release identified",
                "method": "deploy records before the suspect deploy",
                "passed": ctx.target_release is not None,
                "detail": ctx.target_release or "no earlier deploy of a different version recorded",
            }
        )
    rollbacks = [name for name, config in by_name.items() if config.purpose == "rollback"]
    ready: list[str] = []
    for name in chosen:
        config = by_name[name]
        executor = EXECUTORS.load(config.kind)()
        option_ctx = replace(ctx, target_release=fix_version) if config.purpose == "fix" else ctx
        found = fix_items(config, option_ctx, rollbacks) if config.purpose == "fix" else []
        if option_ctx.target_release is not None or config.purpose != "fix":
            found += executor.readiness(config, option_ctx)
        option_items = [i.model_dump() for i in found]
        rehearsed = rehearsal_item(ctx.base_dir, name)
        if rehearsed is not None:
            option_items.append(rehearsed)
        items.extend({**i, "option": name} for i in option_items)
        has_target = option_ctx.target_release is not None or not _requires_release(config)
        if has_target and all(i["passed"] for i in option_items):
            ready.append(name)
    return items, ready


def _record_readiness(
    kernel: Kernel,
    journal: Journal,
    inc: Incident,
    by_name: dict[str, ExecutorConfig],
    ctx: ExecutionContext,
    found: tuple[list[dict[str, Any]], list[str], float],
) -> None:
    """Record what the checks found (items, ready options, how long the checks took)."""
    items, ready, took_ms = found
    passed = bool(ready)
    inc.readiness = {
        "checked_at": isoformat(utcnow()),
        "checks_took_ms": took_ms,
        "target_release": ctx.target_release,
        "items": items,
        "ready_options": ready,
        "passed": passed,
    }
    failed = [i for i in items if not i["passed"]]
    skipped = [i for i in failed if i.get("option") not in (None, *ready)]
    journal.event(
        inc,
        "readiness.checked",
        f"{len(items) - len(failed)}/{len(items)} prerequisites met; "
        f"ready: {', '.join(ready) or 'none'}"
        + (
            "; not ready: " + "; ".join(f"{i['item']} ({i['detail']})" for i in skipped)
            if ready and skipped
            else ""
        ),
    )
    if not passed:
        reasons = "; ".join(f"{i['item']}: {i['detail']}" for i in failed)
        kernel.halt(journal, inc, f"rollback prerequisites unmet — {reasons}")
        return
    assert inc.plan is not None
    inc.plan = {**inc.plan, "chosen": ready}
    kernel.move(journal, inc, Status.AWAITING_APPROVAL, "plan written and readiness checked")
    first = by_name[ready[0]]
    action = EXECUTORS.load(first.kind)().describe(first, context_for(kernel, inc, first))
    if len(ready) > 1:
        action += f", then if it fails: {', '.join(ready[1:])}"
    approve.ask(
        kernel,
        journal,
        inc,
        "mitigation",
        action,
        policy_says=f"approves {', '.join(ready)} for {inc.severity} on {inc.service}",
        action_names=tuple(ready),
        action_kinds=tuple(by_name[n].kind for n in ready),
    )
