"""Who hears what: channels grouped into audiences, routed by severity and service.

A channel reaches one audience (``responders``, ``stakeholders``, ``executives``,
``customers``, or any name) and may be limited to some severities and services. The settings'
``routing`` names, per severity, the audiences told of it (for instance the top severity →
responders and stakeholders; the lowest → a digest channel only); a severity it does not name
reaches every audience. Public audiences (customers) receive only messages written for the
public (status updates), every other audience every message routed to it.

While an incident of a level named in ``update_cadence_minutes`` is open (by default the top
two levels, every 15 minutes), a status update is due at that pace; the audiences reminded
when one is late are the responders (``responder_audiences``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from incident_commander.notify.base import EventChannelConfig, NotifierConfig

__all__ = [
    "DEFAULT_CADENCE_MINUTES",
    "PUBLIC_AUDIENCES",
    "STAKEHOLDER_AUDIENCES",
    "audiences_of",
    "cadence_of",
    "check_cadence",
    "check_routing",
    "recipients",
    "responder_audiences",
]

PUBLIC_AUDIENCES = frozenset({"customers"})
# Those gate 1 counts as "stakeholders notified" once a message to them was delivered.
STAKEHOLDER_AUDIENCES = frozenset({"stakeholders", "executives", "customers"})
# How often a status update is due while an incident of the top two levels is open.
DEFAULT_CADENCE_MINUTES = 15.0


def audiences_of(channels: Iterable[NotifierConfig]) -> list[str]:
    """The audiences the configured message channels reach, sorted."""
    return sorted({c.audience for c in channels if not isinstance(c, EventChannelConfig)})


def check_routing(
    channels: Sequence[NotifierConfig], routing: Mapping[str, Sequence[str]], levels: Sequence[str]
) -> list[str]:
    """What is wrong with the routing table and the channels' filters (empty: nothing)."""
    problems = []
    names = [c.name for c in channels]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"notifications: channel name {name!r} is used twice")
    known = set(audiences_of(channels))
    for severity, audiences in routing.items():
        if severity not in levels:
            problems.append(f"routing: unknown severity {severity!r} (one of: {', '.join(levels)})")
        for audience in audiences:
            if audience not in known:
                problems.append(
                    f"routing.{severity}: no channel reaches audience {audience!r} "
                    f"(audiences: {', '.join(sorted(known)) or 'none'})"
                )
    for channel in channels:
        for severity in channel.severities:
            if severity not in levels:
                problems.append(
                    f"notifications.{channel.name}.severities: unknown severity {severity!r} "
                    f"(one of: {', '.join(levels)})"
                )
    return problems


def recipients(
    channels: Iterable[NotifierConfig],
    routing: Mapping[str, Sequence[str]],
    *,
    severity: str | None,
    service: str,
    public: bool,
    audience: str | None = None,
) -> list[NotifierConfig]:
    """The message channels a message goes to.

    With ``audience`` (a message addressed by hand), every channel of that audience, whatever
    the routing and the channels' filters; otherwise the audiences routed for ``severity``,
    within each channel's own severities and services. A public audience hears only
    ``public`` messages.
    """
    routed = routing.get(severity) if severity is not None else None
    chosen = []
    for channel in channels:
        if isinstance(channel, EventChannelConfig):
            continue
        if channel.audience in PUBLIC_AUDIENCES and not public:
            continue
        if audience is not None:
            if channel.audience == audience:
                chosen.append(channel)
            continue
        if channel.severities and severity not in channel.severities:
            continue
        if channel.services and service not in channel.services:
            continue
        if routed is not None and channel.audience not in routed:
            continue
        chosen.append(channel)
    return chosen


def cadence_of(cadence: Mapping[str, float] | None, levels: Sequence[str]) -> dict[str, float]:
    """Minutes between status updates per severity: ``cadence`` as configured, or, when it is
    not configured, ``DEFAULT_CADENCE_MINUTES`` for the top two levels (an empty one: none)."""
    if cadence is None:
        return {level: DEFAULT_CADENCE_MINUTES for level in levels[:2]}
    return dict(cadence)


def check_cadence(cadence: Mapping[str, float] | None, levels: Sequence[str]) -> list[str]:
    """What is wrong with ``update_cadence_minutes`` (empty: nothing)."""
    return [
        f"update_cadence_minutes: unknown severity {severity!r} (one of: {', '.join(levels)})"
        for severity in (cadence or {})
        if severity not in levels
    ]


def responder_audiences(channels: Iterable[NotifierConfig]) -> list[str]:
    """The audiences of the people working an incident: ``responders`` when a channel reaches
    it, otherwise every audience that is neither a stakeholder nor a public one."""
    known = audiences_of(channels)
    if "responders" in known:
        return ["responders"]
    return [a for a in known if a not in STAKEHOLDER_AUDIENCES | PUBLIC_AUDIENCES]
