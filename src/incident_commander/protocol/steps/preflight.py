"""Readiness now, without an incident: would each configured option run if it had to?

``ic executors check`` asks this on a quiet afternoon, so a team learns today that its rollback
would not run, not at 3 a.m. Nothing is written and nothing is changed: only each executor's
readiness (and dry run, where it has one) runs, against the release the deploy records name as
the one to return to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incident_commander.errors import InvalidInput
from incident_commander.executors.base import ExecutionContext
from incident_commander.plugins import EXECUTORS
from incident_commander.protocol.steps.plan import check_readiness, release_before

if TYPE_CHECKING:
    from incident_commander.protocol.kernel import Kernel

__all__ = ["installed_executors", "preflight"]


def installed_executors() -> list[dict[str, Any]]:
    """Every installed executor: slug, title, what it is, what it needs, its config fields."""
    found = []
    for slug in EXECUTORS.available():
        executor = EXECUTORS.load(slug)
        doc = (executor.__doc__ or "").strip().splitlines()
        fields = {
            name: field.is_required()
            for name, field in executor.Config.model_fields.items()
            if name not in {"name", "kind"}
        }
        found.append(
            {
                "kind": slug,
                "title": executor.title,
                "does": doc[0] if doc else "",
                "needs": list(executor.requires),
                "dry_run": executor.has_dry_run,
                "needs_release": executor.needs_release,
                "required_fields": sorted(name for name, required in fields.items() if required),
                "optional_fields": sorted(
                    name for name, required in fields.items() if not required
                ),
            }
        )
    return found


def preflight(kernel: Kernel, service: str | None = None) -> list[dict[str, Any]]:
    """Each configured option of ``service`` (or of every service), with its readiness now."""
    services = kernel.settings.services
    if service is not None and service not in services:
        raise InvalidInput(
            f"no service {service!r} in ic.yaml (configured: {', '.join(services) or 'none'})"
        )
    names = [service] if service is not None else list(services)
    report = []
    for name in names:
        configs = list(services[name].rollback_options)
        with kernel.store.session() as session:
            target = release_before(session, name, until=None)
        ctx = ExecutionContext(
            incident_id="preflight",
            service=name,
            base_dir=kernel.settings.base_dir,
            target_release=target,
        )
        by_name = {config.name: config for config in configs}
        items, ready = check_readiness(ctx, by_name, list(by_name), None)
        report.append(
            {
                "service": name,
                "last_known_good": target,
                "options": [
                    {
                        "name": config.name,
                        "kind": config.kind,
                        "purpose": config.purpose,
                        "ready": config.name in ready,
                        "items": [i for i in items if i.get("option") == config.name],
                    }
                    for config in configs
                ],
                "shared_items": [i for i in items if "option" not in i],
            }
        )
    return report
